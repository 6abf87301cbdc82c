// The dashboard page: loads events, counts and destination health from /api, draws the chart,
// and keeps everything current from the live stream (/api/stream, server-sent events).
(() => {
  "use strict";

  const T = window.TenazI18n;
  const PAGE_SIZE = 50;
  const MAX_PAGE_SIZE = 500; // the server's cap on one page
  const REFRESH_DELAY_MS = 250; // bursts of changes become one reload...
  const REFRESH_EVERY_MS = 1000; // ...and a busy workspace reloads at most once a second
  const RECONNECT_DELAY_MS = 3000;
  const RETRYABLE = new Set(["FAILED", "WAITING_RETRY"]);

  const state = {
    statuses: [],
    filter: { statuses: new Set(), destination: "", q: "" },
    events: [],
    nextToken: "",
    stats: null,
    detailId: null,
    detail: null,
    listGeneration: 0,
    scope: "submit", // the key's scope; the server refuses what it does not allow anyway
    alerts: null, // the alerts panel's rules, channels and notifications (admin keys)
  };

  // Retry, cancel and new access tokens need an admin key: other keys are not offered them.
  const canOperate = () => state.scope === "admin";

  const $ = (selector) => document.querySelector(selector);

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attributes = {}, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }

  // --- talking to the server ---------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      window.location.assign("/login");
      throw new ApiError("unauthenticated", 401);
    }
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new ApiError(payload.error?.message ?? response.statusText, response.status);
    }
    hideError();
    return payload;
  }

  function showError(failure) {
    if (failure.status === 401) return; // already on the way to the login page
    const banner = $("#error-banner");
    banner.textContent = T.t("error", { message: failure.message });
    banner.hidden = false;
  }

  function hideError() {
    $("#error-banner").hidden = true;
  }

  // --- pieces ------------------------------------------------------------------------------

  function statusBadge(status) {
    return element(
      "span",
      { class: `badge status-${status.toLowerCase()}`, dataset: { status } },
      T.statusLabel(status),
    );
  }

  function healthBadge(health) {
    return element("span", { class: `badge health-${health}` }, T.t(`health.${health}`));
  }

  function timeElement(iso, text) {
    if (!iso) return element("span", {}, "—");
    return element("time", { datetime: iso }, text ?? T.dateTime(iso));
  }

  // --- counts, chart, destinations ---------------------------------------------------------

  function renderCounts() {
    const stats = state.stats;
    const list = $("#counts");
    if (!stats) return;
    list.replaceChildren(
      ...state.statuses.map((s) =>
        element(
          "li",
          { class: "count", dataset: { status: s.name } },
          statusBadge(s.name),
          element("span", { class: "count-value" }, String(stats.counts[s.name] ?? 0)),
        ),
      ),
    );
    $("#success-rate").textContent = T.t("successRate", { rate: T.percent(stats.success_rate) });
  }

  // A round step for about four grid lines up to `value` (1, 2 or 5 times a power of ten).
  function gridStep(value) {
    const rough = Math.max(1, value / 4);
    const magnitude = 10 ** Math.floor(Math.log10(rough));
    for (const step of [1, 2, 5, 10]) {
      if (step * magnitude >= rough) return step * magnitude;
    }
    return 10 * magnitude;
  }

  // Attempts per bucket, stacked by outcome.
  function renderChart() {
    const stats = state.stats;
    if (!stats) return;
    const width = 640;
    const height = 220;
    const left = 40;
    const right = 8;
    const top = 10;
    const bottom = 26;
    const outcomes = stats.outcomes;
    const buckets = stats.attempts;
    const totals = buckets.map((b) => outcomes.reduce((sum, o) => sum + (b[o] ?? 0), 0));
    const grand = totals.reduce((a, b) => a + b, 0);
    const step = gridStep(Math.max(1, ...totals));
    const ceiling = step * Math.max(1, Math.ceil(Math.max(...totals, 1) / step));
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const slot = plotWidth / Math.max(1, buckets.length);
    const barWidth = Math.max(2, slot * 0.72);
    const y = (value) => top + plotHeight - (value / ceiling) * plotHeight;

    const byOutcome = outcomes
      .map((o) => [o, buckets.reduce((sum, b) => sum + (b[o] ?? 0), 0)])
      .filter(([, count]) => count > 0)
      .map(([o, count]) => `${count} ${T.t(`outcome.${o}`).toLowerCase()}`);
    const summary = grand ? T.t("chartSummary", { summary: byOutcome.join(", ") }) : T.t("chartEmpty");

    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-labelledby": "chart-svg-title",
      class: "chart-svg",
    });
    chart.append(svg("title", { id: "chart-svg-title" }, summary));

    for (let value = 0; value <= ceiling; value += step) {
      chart.append(
        svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "grid" }),
        svg("text", { x: left - 6, y: y(value) + 4, class: "axis", "text-anchor": "end" }, String(value)),
      );
    }

    const labelEvery = Math.max(1, Math.ceil(buckets.length / 6));
    buckets.forEach((bucket, index) => {
      const x = left + index * slot + (slot - barWidth) / 2;
      let base = 0;
      for (const outcome of outcomes) {
        const count = bucket[outcome] ?? 0;
        if (!count) continue;
        const rect = svg("rect", {
          x: x.toFixed(1),
          y: y(base + count).toFixed(1),
          width: barWidth.toFixed(1),
          height: Math.max(1, y(base) - y(base + count)).toFixed(1),
          class: `bar outcome-${outcome}`,
        });
        rect.append(svg("title", {}, `${T.time(bucket.start)} · ${T.t(`outcome.${outcome}`)}: ${count}`));
        chart.append(rect);
        base += count;
      }
      if (index % labelEvery === 0) {
        chart.append(
          svg(
            "text",
            { x: (x + barWidth / 2).toFixed(1), y: height - 8, class: "axis", "text-anchor": "middle" },
            T.time(bucket.start),
          ),
        );
      }
    });
    $("#chart").replaceChildren(chart);
    $("#chart-legend").replaceChildren(
      ...outcomes
        .filter((o) => o !== "in_progress")
        .map((o) =>
          element(
            "li",
            {},
            element("span", { class: `swatch outcome-${o}`, "aria-hidden": "true" }),
            T.t(`outcome.${o}`),
          ),
        ),
    );
  }

  function renderDestinations() {
    const stats = state.stats;
    if (!stats) return;
    const list = $("#destinations");
    if (!stats.destinations.length) {
      list.replaceChildren(element("li", { class: "muted" }, T.t("noDestinations")));
      return;
    }
    list.replaceChildren(
      ...stats.destinations.map((d) => {
        const facts = [];
        if (d.waiting_retry) facts.push(T.t("waitingRetry", { n: d.waiting_retry }));
        if (finishedDeliveries(d.name)) {
          facts.push(T.t("destinationSuccess", { rate: T.percent(d.success_rate) }));
        }
        if (d.last_success_at) facts.push(T.t("lastSuccess", { time: T.dateTime(d.last_success_at) }));
        const item = element(
          "li",
          { class: `destination health-${d.health}`, dataset: { destination: d.name, health: d.health } },
          element(
            "div",
            { class: "destination-head" },
            element("strong", {}, d.name),
            element("span", { class: "platform-name muted small" }, d.platform_name),
            healthBadge(d.health),
          ),
          d.action ? element("p", { class: "action" }, T.actionLabel(d.action)) : null,
          d.reason ? element("p", { class: "reason" }, d.reason) : null,
          facts.length ? element("p", { class: "muted small" }, facts.join(" · ")) : null,
        );
        if (d.health === "needs_action" && canOperate() && d.secrets.length) {
          item.append(secretsForm(d));
        }
        return item;
      }),
    );
  }

  // Deliveries of the destination that reached Sucesso or Falha: without any, a rate says nothing.
  function finishedDeliveries(name) {
    return state.stats.counts_by_destination
      .filter((c) => c.destination === name && (c.status === "SUCCEEDED" || c.status === "FAILED"))
      .reduce((sum, c) => sum + c.count, 0);
  }

  // New credentials for a destination that needs action: one field per secret of its platform.
  function secretsForm(destination) {
    const inputs = destination.secrets.map((secret) =>
      element("input", {
        id: `secret-${destination.name}-${secret.name}`,
        name: secret.name,
        type: "password",
        autocomplete: "off",
        spellcheck: "false",
        required: true,
        "aria-label": secret.label,
      }),
    );
    const save = element("button", { type: "submit", class: "primary" }, T.t("saveToken"));
    const fields = inputs.map((input, index) =>
      element(
        "div",
        { class: "search-row" },
        element("label", { for: input.id }, destination.secrets[index].label),
        input,
      ),
    );
    const form = element(
      "form",
      { class: "token-form" },
      element("p", { class: "small" }, T.t("newToken")),
      ...fields,
      save,
    );
    form.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      const secrets = Object.fromEntries(inputs.map((input) => [input.name, input.value]));
      try {
        await api(`/api/destinations/${encodeURIComponent(destination.name)}/access-token`, {
          method: "POST",
          body: { secrets },
        });
        for (const input of inputs) input.value = "";
        $("#destination-message").textContent = T.t("tokenSaved", { name: destination.name });
        scheduleRefresh();
      } catch (failure) {
        showError(failure);
      }
    });
    return form;
  }

  // --- filters -----------------------------------------------------------------------------

  function chip(label, pressed, onClick, data = {}) {
    const attributes = {
      type: "button",
      class: "chip",
      "aria-pressed": pressed ? "true" : "false",
      dataset: data,
      onclick: onClick,
    };
    return element("button", attributes, label);
  }

  function renderFilters() {
    const selected = state.filter.statuses;
    $("#status-chips").replaceChildren(
      chip(T.t("all"), selected.size === 0, () => {
        selected.clear();
        filtersChanged();
      }, { status: "" }),
      ...state.statuses.map((s) =>
        chip(T.statusLabel(s.name), selected.has(s.name), () => {
          if (selected.has(s.name)) selected.delete(s.name);
          else selected.add(s.name);
          filtersChanged();
        }, { status: s.name }),
      ),
    );
    const names = state.stats ? state.stats.destinations.map((d) => d.name) : [];
    const chosen = state.filter.destination;
    $("#destination-chips").replaceChildren(
      chip(T.t("all"), chosen === "", () => {
        state.filter.destination = "";
        filtersChanged();
      }, { destination: "" }),
      ...names.map((name) =>
        chip(name, chosen === name, () => {
          state.filter.destination = chosen === name ? "" : name;
          filtersChanged();
        }, { destination: name }),
      ),
    );
  }

  function filtersChanged() {
    renderFilters();
    loadEvents({ reset: true }).catch(showError);
  }

  // --- the list ----------------------------------------------------------------------------

  function eventsQuery(pageSize, pageToken) {
    const query = new URLSearchParams();
    for (const status of state.filter.statuses) query.append("status", status);
    if (state.filter.destination) query.set("destination", state.filter.destination);
    if (state.filter.q) query.set("q", state.filter.q);
    query.set("page_size", String(pageSize));
    if (pageToken) query.set("page_token", pageToken);
    return `/api/events?${query}`;
  }

  // reset: the first page for new filters; otherwise reload what is shown (live updates).
  async function loadEvents({ reset = false, more = false } = {}) {
    const generation = ++state.listGeneration;
    const size = reset ? PAGE_SIZE : Math.min(MAX_PAGE_SIZE, Math.max(PAGE_SIZE, state.events.length));
    const page = await api(eventsQuery(size, more ? state.nextToken : ""));
    if (generation !== state.listGeneration) return; // a newer load owns the list
    state.events = more ? state.events.concat(page.events) : page.events;
    state.nextToken = page.next_page_token;
    renderEvents();
  }

  function renderEvents() {
    const focusedEvent = document.activeElement?.closest?.("tr")?.dataset.eventId;
    $("#events").replaceChildren(...state.events.map(eventRow));
    $("#empty").hidden = state.events.length > 0;
    $("#more").hidden = !state.nextToken;
    renderRetryShown();
    if (focusedEvent) document.querySelector(`tr[data-event-id="${focusedEvent}"] a`)?.focus();
  }

  function eventRow(event) {
    const selected = event.id === state.detailId;
    return element(
      "tr",
      { dataset: { eventId: event.id }, class: selected ? "selected" : "" },
      element(
        "td",
        {},
        element(
          "a",
          { href: `#event/${event.id}`, class: "event-link", "aria-current": selected ? "true" : null },
          element("span", { class: "event-name" }, event.event_name),
          element("span", { class: "mono" }, event.event_id),
        ),
      ),
      element("td", { class: "mono" }, event.order_id || "—"),
      element("td", {}, timeElement(event.received_at)),
      element(
        "td",
        {},
        element(
          "ul",
          { class: "delivery-list" },
          ...event.deliveries.map((d) =>
            element(
              "li",
              { dataset: { deliveryId: d.id, status: d.status } },
              element("span", { class: "destination-name" }, d.destination),
              element("span", { class: "platform-name muted small" }, d.platform_name),
              statusBadge(d.status),
            ),
          ),
        ),
      ),
    );
  }

  // The deliveries the filters picked (not their events' other deliveries) that can be retried.
  function shownRetryable() {
    const { statuses, destination } = state.filter;
    const picked = (d) =>
      d.can_retry &&
      (statuses.size === 0 || statuses.has(d.status)) &&
      (!destination || d.destination === destination);
    return state.events.flatMap((e) => e.deliveries.filter(picked).map((d) => d.id));
  }

  function renderRetryShown() {
    const button = $("#retry-shown");
    const ids = shownRetryable();
    const failuresFiltered = [...state.filter.statuses].some((s) => RETRYABLE.has(s));
    button.hidden = !(canOperate() && failuresFiltered && ids.length);
    button.textContent = T.t("retryShown", { n: ids.length });
  }

  // --- the detail panel --------------------------------------------------------------------

  async function openDetail(id, { focus = false } = {}) {
    state.detailId = id;
    for (const row of document.querySelectorAll("#events tr")) {
      const selected = row.dataset.eventId === id;
      row.classList.toggle("selected", selected);
      row.querySelector("a")?.toggleAttribute("aria-current", selected);
    }
    const detail = (await api(`/api/events/${encodeURIComponent(id)}`)).event;
    if (state.detailId !== id) return;
    state.detail = detail;
    renderDetail();
    if (focus) $("#detail-title").focus();
  }

  function closeDetail() {
    state.detailId = null;
    state.detail = null;
    $("#detail").hidden = true;
    for (const row of document.querySelectorAll("#events tr.selected")) row.classList.remove("selected");
    if (window.location.hash) history.replaceState(null, "", window.location.pathname);
  }

  function fact(label, value) {
    return [element("dt", {}, label), element("dd", {}, value)];
  }

  function renderDetail() {
    const event = state.detail;
    if (!event) return;
    $("#detail").hidden = false;
    $("#detail-title").textContent = `${event.event_name} · ${event.event_id}`;
    const facts = element(
      "dl",
      { class: "facts" },
      ...fact(T.t("internalId"), event.id),
      ...fact(T.t("eventId"), element("span", { class: "mono" }, event.event_id)),
      ...fact(T.t("order"), event.order_id ? element("span", { class: "mono" }, event.order_id) : "—"),
      ...fact(T.t("value"), T.money(event.value, event.currency)),
      ...fact(T.t("eventTime"), timeElement(event.event_time)),
      ...fact(T.t("received"), timeElement(event.received_at)),
      ...fact(T.t("actionSource"), event.action_source || "—"),
      ...fact(T.t("customerFields"), event.customer_fields.join(", ") || "—"),
    );
    $("#detail-body").replaceChildren(facts, ...event.deliveries.map(deliverySection));
  }

  function deliverySection(delivery) {
    const facts = [
      ...fact(T.t("deliveryId"), element("span", { class: "mono" }, delivery.id)),
      ...fact(T.t("attempts"), String(delivery.attempt_count)),
    ];
    const next = delivery.next_attempt_at;
    if (next) {
      const text = `${T.dateTime(next)} (${T.relative(next)})`;
      facts.push(...fact(T.t("nextAttempt"), timeElement(next, text)));
    }
    facts.push(...fact(T.t("deadline"), timeElement(delivery.deadline)));
    if (delivery.failure_reason) {
      facts.push(...fact(T.t("failureReason"), T.t(`reason.${delivery.failure_reason}`)));
    }
    if (delivery.last_error) {
      const message = element("span", { class: "message" }, delivery.last_error);
      facts.push(...fact(T.t("lastError"), message));
    }

    const actions = element("div", { class: "actions" });
    const action = (kind, style) =>
      element(
        "button",
        { type: "button", class: style, onclick: () => operate(kind, [delivery.id]) },
        T.t(kind),
      );
    if (canOperate() && delivery.can_retry) actions.append(action("retry", "primary"));
    if (canOperate() && delivery.can_cancel) actions.append(action("cancel", "danger"));
    const timelineId = `timeline-${delivery.id}`;
    const attempts = delivery.attempts.slice().reverse().map(attemptItem);
    return element(
      "section",
      { class: "delivery", dataset: { deliveryId: delivery.id, status: delivery.status } },
      element(
        "h4",
        {},
        element("span", {}, delivery.destination),
        element("span", { class: "platform-name muted small" }, delivery.platform_name),
        statusBadge(delivery.status),
      ),
      element("dl", { class: "facts" }, ...facts),
      actions.childElementCount ? actions : null,
      element("h5", { id: timelineId }, T.t("timeline", { destination: delivery.destination })),
      attempts.length
        ? element("ol", { class: "timeline", "aria-labelledby": timelineId }, ...attempts)
        : element("p", { class: "muted small" }, T.t("noAttempts")),
    );
  }

  function attemptItem(attempt) {
    const codes = [];
    if (attempt.http_status) codes.push(T.t("httpStatus", { status: attempt.http_status }));
    if (attempt.platform_code) codes.push(T.t("platformCode", { code: attempt.platform_code }));
    if (attempt.platform_subcode) {
      codes.push(T.t("platformSubcode", { code: attempt.platform_subcode }));
    }
    const outcome = attempt.outcome;
    const which = `${T.t("attemptNumber", { n: attempt.number })} · ${T.t(`trigger.${attempt.trigger}`)}`;
    return element(
      "li",
      { class: `attempt outcome-${outcome}` },
      element(
        "div",
        { class: "attempt-head" },
        element("span", { class: `outcome-label outcome-${outcome}` }, T.t(`outcome.${outcome}`)),
        element("span", {}, which),
        timeElement(attempt.started_at),
      ),
      codes.length ? element("p", { class: "small mono" }, codes.join(" · ")) : null,
      attempt.message ? element("p", { class: "message" }, attempt.message) : null,
    );
  }

  async function operate(kind, ids) {
    try {
      const { operation } = await api(`/api/deliveries/${kind}`, {
        method: "POST",
        body: { delivery_ids: ids },
      });
      let message = T.t("operationDone", operation);
      if (operation.skipped) message += T.t("operationSkipped", operation);
      $("#action-message").textContent = message;
      scheduleRefresh();
    } catch (failure) {
      showError(failure);
    }
  }

  // --- keeping current ---------------------------------------------------------------------

  // The alerts panel (admin keys only, as every /api/alerts call): rules and where they fire,
  // channels, recent notifications, and the forms that add, switch off and delete them.
  async function loadAlerts() {
    if (!canOperate()) return;
    state.alerts = await api("/api/alerts");
    renderAlerts();
  }

  function renderAlerts() {
    const alerts = state.alerts;
    if (!alerts) return;
    $("#alerts-card").hidden = false;
    const list = (selector, items, empty, render) =>
      $(selector).replaceChildren(
        ...(items.length ? items.map(render) : [element("li", { class: "muted" }, T.t(empty))]),
      );
    const button = (label, style, onclick) =>
      element("button", { type: "button", class: style, onclick }, T.t(label));
    list("#alert-rules", alerts.rules, "noAlertRules", (r) =>
      element(
        "li",
        {
          class: `destination health-${!r.enabled ? "disabled" : r.firing.length ? "failing" : "healthy"}`,
          dataset: { rule: r.name, enabled: String(r.enabled) },
        },
        element("strong", {}, r.name),
        " ",
        element("span", { class: "muted small" }, `${r.condition} → ${r.channels.join(", ")}`),
        element(
          "p",
          { class: r.firing.length ? "reason" : "muted small" },
          !r.enabled
            ? T.t("alertOff")
            : r.firing.length
              ? T.t("alertFiring", { names: r.firing.join(", ") })
              : T.t("alertQuiet"),
        ),
        element(
          "div",
          { class: "alert-actions" },
          button(r.enabled ? "disableRule" : "enableRule", "", () =>
            changeAlerts(`/api/alerts/rules/${encodeURIComponent(r.name)}/enabled`, {
              method: "POST",
              body: { enabled: !r.enabled },
              done: r.enabled ? "ruleDisabled" : "ruleEnabled",
              name: r.name,
            }),
          ),
          button("delete", "danger", () =>
            changeAlerts(`/api/alerts/rules/${encodeURIComponent(r.name)}`, {
              method: "DELETE",
              done: "ruleDeleted",
              name: r.name,
            }),
          ),
        ),
      ),
    );
    list("#alert-channels", alerts.channels, "noAlertChannels", (c) =>
      element(
        "li",
        { class: "destination", dataset: { channel: c.name } },
        element("strong", {}, c.name),
        " ",
        element("span", { class: "muted small" }, `${c.kind}: ${c.target}`),
        element(
          "div",
          { class: "alert-actions" },
          button("delete", "danger", () =>
            changeAlerts(`/api/alerts/channels/${encodeURIComponent(c.name)}`, {
              method: "DELETE",
              done: "channelDeleted",
              name: c.name,
            }),
          ),
        ),
      ),
    );
    list("#alert-history", alerts.notifications, "noAlertHistory", (n) =>
      element(
        "li",
        { class: `destination alert-${n.state}`, dataset: { notification: n.id } },
        element("span", { class: "muted small" }, T.dateTime(n.created_at)),
        " ",
        element("strong", {}, T.t(`alertState.${n.state}`)),
        " ",
        element("span", { class: "small" }, `${n.channel}: ${n.text}`),
        n.last_error ? element("p", { class: "reason" }, n.last_error) : null,
      ),
    );
  }

  // One change to the alerts (create, switch, delete), then the panel as the server has it.
  async function changeAlerts(path, { method, body, done, name }) {
    try {
      await api(path, { method, body });
      $("#alert-message").textContent = T.t(done, { name });
      await loadAlerts();
      return true;
    } catch (failure) {
      showError(failure);
      return false;
    }
  }

  const commaList = (text) =>
    text
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean);

  function bindAlertForms() {
    const channelForm = $("#alert-channel-form");
    const showKind = () => {
      for (const fieldset of channelForm.querySelectorAll("fieldset[data-kind]")) {
        fieldset.hidden = fieldset.dataset.kind !== channelForm.elements.kind.value;
      }
    };
    channelForm.elements.kind.addEventListener("change", showKind);
    channelForm.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      const f = channelForm.elements;
      const kind = f.kind.value;
      // Secrets go once, to be sealed; the server never sends them back.
      const [settings, secrets] =
        kind === "webhook"
          ? [{ url: f.url.value }, { signing_secret: f.signing_secret.value }]
          : [
              {
                host: f.host.value,
                port: f.port.value ? Number(f.port.value) : undefined,
                username: f.username.value,
                sender: f.sender.value,
                recipients: commaList(f.recipients.value),
              },
              { password: f.password.value },
            ];
      const name = f.name.value.trim();
      const created = await changeAlerts("/api/alerts/channels", {
        method: "POST",
        body: { name, kind, settings, secrets },
        done: "channelCreated",
        name,
      });
      if (created) {
        channelForm.reset();
        showKind();
      }
    });
    const ruleForm = $("#alert-rule-form");
    ruleForm.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      const f = ruleForm.elements;
      const name = f.name.value.trim();
      const created = await changeAlerts("/api/alerts/rules", {
        method: "POST",
        body: {
          name,
          condition: f.condition.value,
          destination: f.destination.value,
          threshold: f.threshold.value ? Number(f.threshold.value) : 0,
          window: f.window.value,
          recovery: f.recovery.value,
          channels: commaList(f.channels.value),
        },
        done: "ruleCreated",
        name,
      });
      if (created) ruleForm.reset();
    });
  }

  async function loadStats() {
    state.stats = await api("/api/stats");
    renderCounts();
    renderChart();
    renderDestinations();
    renderFilters();
  }

  let refreshTimer = null;
  let refreshing = false;
  let refreshAgain = false;
  let lastRefresh = 0;

  function scheduleRefresh() {
    if (refreshTimer !== null) return;
    const wait = Math.max(REFRESH_DELAY_MS, lastRefresh + REFRESH_EVERY_MS - Date.now());
    refreshTimer = setTimeout(refresh, wait);
  }

  async function refresh() {
    refreshTimer = null;
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    lastRefresh = Date.now();
    try {
      const loads = [loadStats(), loadEvents(), loadAlerts()];
      if (state.detailId) loads.push(openDetail(state.detailId));
      await Promise.all(loads);
    } catch (failure) {
      showError(failure);
    } finally {
      refreshing = false;
      if (refreshAgain) {
        refreshAgain = false;
        scheduleRefresh();
      }
    }
  }

  // A change shows at once on the badges it touches; the reload that follows brings counts,
  // new events and the filters' view up to date.
  function applyChange(change) {
    for (const item of document.querySelectorAll(`[data-delivery-id="${change.delivery_id}"]`)) {
      item.dataset.status = change.to_status;
      item.querySelector(".badge")?.replaceWith(statusBadge(change.to_status));
    }
    scheduleRefresh();
  }

  function renderScope() {
    $("#key-scope").textContent = T.t(`scope.${state.scope}`);
    $("#scope-note").hidden = canOperate();
  }

  function setLive(liveState) {
    const live = $("#live");
    live.dataset.state = liveState;
    const text = $("#live-text");
    text.dataset.i18n = `live.${liveState}`;
    text.textContent = T.t(`live.${liveState}`);
  }

  function connect() {
    const source = new EventSource("/api/stream");
    source.addEventListener("ready", () => {
      setLive("live");
      scheduleRefresh(); // anything before the stream's start is in this reload
    });
    source.addEventListener("heartbeat", () => setLive("live"));
    source.addEventListener("change", (message) => {
      setLive("live");
      applyChange(JSON.parse(message.data));
    });
    source.addEventListener("error", (message) => {
      // The server's own error event (the stream fell behind a retention purge) ends it for good.
      if (message.data) source.close();
      if (source.readyState !== EventSource.CLOSED) {
        setLive("reconnecting"); // the browser retries with Last-Event-ID by itself
        return;
      }
      // Refused (logged out, or the cursor was purged): check the session, then start afresh.
      setLive("offline");
      setTimeout(() => {
        api("/api/session").then(connect, showError);
      }, RECONNECT_DELAY_MS);
    });
  }

  // --- wiring ------------------------------------------------------------------------------

  function routeFromHash({ focus = false } = {}) {
    const match = /^#event\/(\d+)$/.exec(window.location.hash);
    if (match) openDetail(match[1], { focus }).catch(showError);
    else if (state.detailId) closeDetail();
  }

  function bind() {
    $("#search").addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      state.filter.q = $("#q").value.trim();
      loadEvents({ reset: true }).catch(showError);
    });
    $("#clear-search").addEventListener("click", () => {
      $("#q").value = "";
      state.filter.q = "";
      loadEvents({ reset: true }).catch(showError);
    });
    $("#more").addEventListener("click", () => loadEvents({ more: true }).catch(showError));
    $("#retry-shown").addEventListener("click", () => operate("retry", shownRetryable()));
    $("#detail-close").addEventListener("click", closeDetail);
    window.addEventListener("hashchange", () => routeFromHash({ focus: true }));
    $("#logout").addEventListener("click", async () => {
      await fetch("/api/session", { method: "DELETE", credentials: "same-origin" }).catch(() => null);
      window.location.assign("/login");
    });
    T.onChange(() => {
      renderScope();
      renderCounts();
      renderChart();
      renderDestinations();
      renderFilters();
      renderEvents();
      renderDetail();
      renderAlerts();
    });
    bindAlertForms();
    T.bindToggle();
  }

  async function start() {
    bind();
    try {
      const [session, model] = await Promise.all([api("/api/session"), api("/api/statuses")]);
      $("#workspace-name").textContent = session.workspace;
      state.scope = session.scope;
      renderScope();
      T.setStatusLabels(model);
      state.statuses = model.statuses;
      renderFilters();
      await Promise.all([loadStats(), loadEvents({ reset: true }), loadAlerts()]);
      routeFromHash();
    } catch (failure) {
      showError(failure);
    }
    connect();
  }

  start();
})();
