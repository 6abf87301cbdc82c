// The dashboard's words in Portuguese (the default) and English, and the language toggle.
// Status labels are not here: the server sends them (GET /api/statuses) from jobs/status.py,
// so the page always shows exactly the labels of the status model.
(() => {
  "use strict";

  const STORAGE_KEY = "tenaz.lang";
  const LANGUAGES = ["pt-BR", "en"];

  const STRINGS = {
    "pt-BR": {
      pageTitle: "Tenaz · Eventos",
      loginPageTitle: "Tenaz · Entrar",
      skip: "Pular para os eventos",
      otherLanguage: "English",
      workspace: "Workspace",
      keyScope: "Chave",
      "scope.submit": "envio",
      "scope.admin": "administração",
      submitScopeNote:
        "Esta é uma chave de envio: para reenviar ou cancelar entregas, entre com uma chave admin.",
      logout: "Sair",
      "live.connecting": "Conectando…",
      "live.live": "Ao vivo",
      "live.reconnecting": "Reconectando…",
      "live.offline": "Sem conexão",
      summaryTitle: "Entregas nas últimas 24 horas",
      successRate: "Taxa de sucesso: {rate}",
      chartTitle: "Tentativas por hora",
      chartSummary: "Tentativas nas últimas 24 horas: {summary}.",
      chartEmpty: "Nenhuma tentativa nas últimas 24 horas.",
      destinationsTitle: "Destinos",
      alertsTitle: "Alertas",
      alertRulesTitle: "Regras",
      alertChannelsTitle: "Canais",
      alertHistoryTitle: "Notificações recentes",
      noAlertRules: "Nenhuma regra de alerta.",
      noAlertChannels: "Nenhum canal de alerta.",
      noAlertHistory: "Nenhuma notificação enviada.",
      alertFiring: "disparado: {names}",
      alertQuiet: "sem alerta",
      "alertState.pending": "pendente",
      "alertState.sent": "enviada",
      "alertState.failed": "falhou",
      alertOff: "desativada",
      disableRule: "Desativar",
      enableRule: "Ativar",
      delete: "Excluir",
      newAlertChannel: "Novo canal",
      newAlertRule: "Nova regra",
      alertName: "Nome",
      channelKind: "Tipo",
      channelUrl: "URL do webhook",
      channelSigningSecret: "Segredo de assinatura (whsec_...)",
      channelHost: "Servidor SMTP",
      channelPort: "Porta",
      channelUsername: "Usuário",
      channelPassword: "Senha",
      channelSender: "Remetente",
      channelRecipients: "Destinatários (separados por vírgula)",
      createChannel: "Criar canal",
      ruleCondition: "Condição",
      ruleDestination: "Destino (vazio: todos)",
      ruleThreshold: "Limite (fração ou segundos)",
      ruleWindow: "Janela",
      ruleRecovery: "Recuperação",
      ruleChannels: "Canais (separados por vírgula)",
      createRule: "Criar regra",
      channelCreated: "Canal {name} criado.",
      channelDeleted: "Canal {name} excluído.",
      ruleCreated: "Regra {name} criada.",
      ruleDeleted: "Regra {name} excluída.",
      ruleEnabled: "Regra {name} ativada.",
      ruleDisabled: "Regra {name} desativada.",
      noDestinations: "Nenhum destino configurado.",
      "health.healthy": "Saudável",
      "health.failing": "Falhando",
      "health.needs_action": "Precisa de ação",
      "health.disabled": "Desativado",
      waitingRetry: "{n} esperando retentativa",
      destinationSuccess: "sucesso {rate}",
      lastSuccess: "último sucesso {time}",
      newToken: "Novas credenciais do destino",
      saveToken: "Salvar e reenviar",
      tokenSaved: "Credenciais de {name} atualizadas: as entregas em espera foram reenviadas.",
      eventsTitle: "Eventos",
      searchLabel: "Buscar por ID do evento ou do pedido",
      searchPlaceholder: "ex.: pedido-1001",
      searchButton: "Buscar",
      clearSearch: "Limpar",
      statusFilter: "Status",
      destinationFilter: "Destino",
      all: "Todos",
      eventsCaption: "Eventos, do mais recente ao mais antigo",
      "col.event": "Evento",
      "col.order": "Pedido",
      "col.received": "Recebido em",
      "col.deliveries": "Entregas",
      empty: "Nenhum evento encontrado.",
      more: "Carregar mais",
      retryShown: "Reenviar as falhas exibidas ({n})",
      close: "Fechar",
      detailTitle: "Detalhes do evento",
      internalId: "ID no Tenaz",
      eventId: "ID do evento",
      order: "Pedido",
      value: "Valor",
      eventTime: "Horário do evento",
      received: "Recebido em",
      customerFields: "Dados do cliente enviados",
      actionSource: "Origem",
      deliveryId: "ID da entrega",
      attempts: "Tentativas",
      nextAttempt: "Próxima tentativa",
      deadline: "Prazo da plataforma",
      failureReason: "Motivo",
      lastError: "Último erro",
      retry: "Reenviar agora",
      cancel: "Cancelar retentativas",
      noAttempts: "Nenhuma tentativa ainda.",
      timeline: "Tentativas de {destination}",
      attemptNumber: "Tentativa {n}",
      "trigger.automatic": "automática",
      "trigger.manual": "manual",
      httpStatus: "HTTP {status}",
      platformCode: "código {code}",
      platformSubcode: "subcódigo {code}",
      "reason.rejected": "rejeitado pela plataforma",
      "reason.expired": "prazo expirado",
      "reason.cancelled": "cancelado por um operador",
      "reason.destination_deleted": "destino excluído",
      "outcome.in_progress": "Em andamento",
      "outcome.succeeded": "Aceito",
      "outcome.external_problem": "Problema externo",
      "outcome.rejected": "Rejeitado",
      "outcome.interrupted": "Interrompido",
      "outcome.expired": "Expirado",
      "outcome.attempt_budget": "Tempo da tentativa esgotado",
      operationDone: "{changed} de {total} entregas alteradas.",
      operationSkipped:
        " {skipped} ignoradas: só falhas e esperas dentro do prazo podem ser reenviadas," +
        " e só esperas podem ser canceladas.",
      error: "Erro: {message}",
      loginTitle: "Entrar no painel do Tenaz",
      loginIntro:
        "Cole uma chave de API do seu workspace. Para criar uma:" +
        " tenaz keys create --workspace NOME --scope admin",
      apiKey: "Chave de API",
      loginButton: "Entrar",
      loginFailed: "Chave inválida. Confira e tente de novo.",
    },
    en: {
      pageTitle: "Tenaz · Events",
      loginPageTitle: "Tenaz · Log in",
      skip: "Skip to the events",
      otherLanguage: "Português",
      workspace: "Workspace",
      keyScope: "Key",
      "scope.submit": "submit",
      "scope.admin": "admin",
      submitScopeNote: "This is a submit key: log in with an admin key to retry or cancel deliveries.",
      logout: "Log out",
      "live.connecting": "Connecting…",
      "live.live": "Live",
      "live.reconnecting": "Reconnecting…",
      "live.offline": "Offline",
      summaryTitle: "Deliveries in the last 24 hours",
      successRate: "Success rate: {rate}",
      chartTitle: "Attempts per hour",
      chartSummary: "Attempts in the last 24 hours: {summary}.",
      chartEmpty: "No attempts in the last 24 hours.",
      destinationsTitle: "Destinations",
      alertsTitle: "Alerts",
      alertRulesTitle: "Rules",
      alertChannelsTitle: "Channels",
      alertHistoryTitle: "Recent notifications",
      noAlertRules: "No alert rules.",
      noAlertChannels: "No alert channels.",
      noAlertHistory: "No notification sent.",
      alertFiring: "firing: {names}",
      alertQuiet: "quiet",
      "alertState.pending": "pending",
      "alertState.sent": "sent",
      "alertState.failed": "failed",
      alertOff: "off",
      disableRule: "Turn off",
      enableRule: "Turn on",
      delete: "Delete",
      newAlertChannel: "New channel",
      newAlertRule: "New rule",
      alertName: "Name",
      channelKind: "Kind",
      channelUrl: "Webhook URL",
      channelSigningSecret: "Signing secret (whsec_...)",
      channelHost: "SMTP server",
      channelPort: "Port",
      channelUsername: "Username",
      channelPassword: "Password",
      channelSender: "Sender",
      channelRecipients: "Recipients (comma-separated)",
      createChannel: "Create channel",
      ruleCondition: "Condition",
      ruleDestination: "Destination (empty: all)",
      ruleThreshold: "Threshold (a fraction or seconds)",
      ruleWindow: "Window",
      ruleRecovery: "Recovery",
      ruleChannels: "Channels (comma-separated)",
      createRule: "Create rule",
      channelCreated: "Channel {name} created.",
      channelDeleted: "Channel {name} deleted.",
      ruleCreated: "Rule {name} created.",
      ruleDeleted: "Rule {name} deleted.",
      ruleEnabled: "Rule {name} turned on.",
      ruleDisabled: "Rule {name} turned off.",
      noDestinations: "No destination configured.",
      "health.healthy": "Healthy",
      "health.failing": "Failing",
      "health.needs_action": "Needs action",
      "health.disabled": "Disabled",
      waitingRetry: "{n} waiting for retry",
      destinationSuccess: "success {rate}",
      lastSuccess: "last success {time}",
      newToken: "New credentials for the destination",
      saveToken: "Save and resend",
      tokenSaved: "{name}'s credentials updated: the waiting deliveries were sent again.",
      eventsTitle: "Events",
      searchLabel: "Search by event id or order id",
      searchPlaceholder: "e.g. pedido-1001",
      searchButton: "Search",
      clearSearch: "Clear",
      statusFilter: "Status",
      destinationFilter: "Destination",
      all: "All",
      eventsCaption: "Events, newest first",
      "col.event": "Event",
      "col.order": "Order",
      "col.received": "Received",
      "col.deliveries": "Deliveries",
      empty: "No events found.",
      more: "Load more",
      retryShown: "Retry the failures shown ({n})",
      close: "Close",
      detailTitle: "Event details",
      internalId: "Tenaz id",
      eventId: "Event id",
      order: "Order",
      value: "Value",
      eventTime: "Event time",
      received: "Received",
      customerFields: "Customer data sent",
      actionSource: "Source",
      deliveryId: "Delivery id",
      attempts: "Attempts",
      nextAttempt: "Next attempt",
      deadline: "Platform deadline",
      failureReason: "Reason",
      lastError: "Last error",
      retry: "Retry now",
      cancel: "Cancel retries",
      noAttempts: "No attempt yet.",
      timeline: "Attempts to {destination}",
      attemptNumber: "Attempt {n}",
      "trigger.automatic": "automatic",
      "trigger.manual": "manual",
      httpStatus: "HTTP {status}",
      platformCode: "code {code}",
      platformSubcode: "subcode {code}",
      "reason.rejected": "rejected by the platform",
      "reason.expired": "deadline passed",
      "reason.cancelled": "cancelled by an operator",
      "reason.destination_deleted": "destination deleted",
      "outcome.in_progress": "In progress",
      "outcome.succeeded": "Accepted",
      "outcome.external_problem": "External problem",
      "outcome.rejected": "Rejected",
      "outcome.interrupted": "Interrupted",
      "outcome.expired": "Expired",
      "outcome.attempt_budget": "Attempt budget ran out",
      operationDone: "{changed} of {total} deliveries changed.",
      operationSkipped:
        " {skipped} skipped: only failures and waits before their deadline can be retried," +
        " and only waits can be cancelled.",
      error: "Error: {message}",
      loginTitle: "Log in to the Tenaz dashboard",
      loginIntro:
        "Paste an API key of your workspace. To make one:" +
        " tenaz keys create --workspace NAME --scope admin",
      apiKey: "API key",
      loginButton: "Log in",
      loginFailed: "Invalid key. Check it and try again.",
    },
  };

  const listeners = [];
  let statusLabels = {};
  let actionLabels = {};

  function stored() {
    try {
      return localStorage.getItem(STORAGE_KEY);
    } catch {
      return null; // storage can be off (private windows); Portuguese it is
    }
  }

  let current = LANGUAGES.includes(stored()) ? stored() : "pt-BR";

  function t(key, vars = {}) {
    const text = STRINGS[current][key] ?? STRINGS["pt-BR"][key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  }

  function statusLabel(status) {
    return statusLabels[status]?.[current] ?? status;
  }

  // Fills every element marked with data-i18n (text), data-i18n-placeholder or
  // data-i18n-aria-label under `root`.
  function apply(root = document) {
    document.documentElement.lang = current;
    for (const element of root.querySelectorAll("[data-i18n]")) {
      element.textContent = t(element.dataset.i18n);
    }
    for (const element of root.querySelectorAll("[data-i18n-placeholder]")) {
      element.placeholder = t(element.dataset.i18nPlaceholder);
    }
    for (const element of root.querySelectorAll("[data-i18n-aria-label]")) {
      element.setAttribute("aria-label", t(element.dataset.i18nAriaLabel));
    }
    const toggle = document.getElementById("lang-toggle");
    if (toggle) {
      toggle.textContent = t("otherLanguage");
      toggle.lang = current === "en" ? "pt-BR" : "en";
    }
  }

  function setLanguage(lang) {
    current = LANGUAGES.includes(lang) ? lang : "pt-BR";
    try {
      localStorage.setItem(STORAGE_KEY, current);
    } catch {
      // not remembered; still switched for this page
    }
    apply();
    for (const listener of listeners) listener(current);
  }

  function bindToggle() {
    const toggle = document.getElementById("lang-toggle");
    if (toggle) {
      toggle.addEventListener("click", () => setLanguage(current === "en" ? "pt-BR" : "en"));
    }
    apply();
  }

  function dateTime(iso) {
    if (!iso) return "—";
    return new Intl.DateTimeFormat(current, { dateStyle: "short", timeStyle: "medium" }).format(
      new Date(iso),
    );
  }

  function time(iso) {
    return new Intl.DateTimeFormat(current, { hour: "2-digit", minute: "2-digit" }).format(
      new Date(iso),
    );
  }

  // "em 28 minutos" / "in 28 minutes", for the next attempt.
  function relative(iso, now = Date.now()) {
    const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
    const format = new Intl.RelativeTimeFormat(current, { numeric: "auto" });
    const units = [
      ["day", 86400],
      ["hour", 3600],
      ["minute", 60],
    ];
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
    }
    return format.format(seconds, "second");
  }

  function percent(rate) {
    return new Intl.NumberFormat(current, { style: "percent", maximumFractionDigits: 1 }).format(
      rate,
    );
  }

  function money(value, currency) {
    if (value === null || value === undefined) return "—";
    try {
      return new Intl.NumberFormat(current, { style: "currency", currency }).format(value);
    } catch {
      return `${value} ${currency}`;
    }
  }

  window.TenazI18n = {
    t,
    statusLabel,
    setStatusLabels(model) {
      statusLabels = Object.fromEntries(model.statuses.map((s) => [s.name, s.labels]));
      actionLabels = Object.fromEntries((model.actions || []).map((a) => [a.name, a.labels]));
    },
    actionLabel: (code) => actionLabels[code]?.[current] ?? "",
    language: () => current,
    setLanguage,
    onChange: (listener) => listeners.push(listener),
    apply,
    bindToggle,
    dateTime,
    time,
    relative,
    percent,
    money,
  };
})();
