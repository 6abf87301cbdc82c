// Meta's own Node.js SDK (facebook-nodejs-business-sdk) sending to Tenaz's Conversions API
// endpoint: the only change from sending to Meta is the SDK's Graph URL. Prints one JSON line
// per request: what EventRequest.execute() resolved to, or the FacebookRequestError's fields.
//
//   TENAZ_INGEST_URL, TENAZ_TEST_API_KEY, TENAZ_TEST_PIXEL, TENAZ_TEST_EVENT_TIME
//   node meta_node_sdk.js
'use strict';

const bizSdk = require('facebook-nodejs-business-sdk');

const { FacebookAdsApi, EventRequest, ServerEvent, UserData, CustomData, Content } = bizSdk;

// The SDK builds every URL from FacebookAdsApi.GRAPH: point it at Tenaz.
Object.defineProperty(FacebookAdsApi, 'GRAPH', { get: () => process.env.TENAZ_INGEST_URL });

const key = process.env.TENAZ_TEST_API_KEY;
const pixel = process.env.TENAZ_TEST_PIXEL;
const eventTime = Number(process.env.TENAZ_TEST_EVENT_TIME);

function purchase(eventId, value = 99.0) {
  const userData = new UserData()
    .setEmails(['cliente@example.com'])
    .setPhones(['5511987654321'])
    .setClientIpAddress('203.0.113.7')
    .setClientUserAgent('Mozilla/5.0 (test)');
  const content = new Content().setId('sku-1').setQuantity(2).setItemPrice(49.5);
  const customData = new CustomData()
    .setValue(value)
    .setCurrency('brl')
    .setContents([content]);
  return new ServerEvent()
    .setEventName('Purchase')
    .setEventTime(eventTime)
    .setEventId(eventId)
    .setActionSource('website')
    .setEventSourceUrl('https://loja.example.com/obrigado')
    .setUserData(userData)
    .setCustomData(customData);
}

async function attempt(name, request) {
  try {
    const response = await request.execute();
    console.log(JSON.stringify({
      name,
      ok: true,
      events_received: response.events_received,
      messages: response.messages,
      fbtrace_id: response.fbtrace_id,
    }));
  } catch (error) {
    console.log(JSON.stringify({
      name,
      ok: false,
      error_name: error.name,
      status: error.status,
      error: error.response,
    }));
  }
}

async function main() {
  await attempt(
    'test event',
    new EventRequest(key, pixel, [purchase('node-1')], null, 'TESTNODE'),
  );
  await attempt('unknown pixel', new EventRequest(key, '999', [purchase('node-2')]));
  await attempt('bad token', new EventRequest('tz_not-a-key', pixel, [purchase('node-3')]));
  await attempt(
    'invalid data',
    new EventRequest(key, pixel, [purchase('node-4'), purchase('node-5', -5)]),
  );
  const many = [];
  for (let i = 0; i < 1001; i++) many.push(purchase(`node-many-${i}`));
  await attempt('too many', new EventRequest(key, pixel, many));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
