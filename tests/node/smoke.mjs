// Drives a running drawdown server with the official Orb Node SDK (`orb-billing` on npm).
//
//   DRAWDOWN_BASE_URL=http://127.0.0.1:8000/v1 DRAWDOWN_API_KEY=dd_... node smoke.mjs
//
// Expects an empty database (tests/node/test_node_sdk.py starts one). Prints one line per
// check and exits non-zero on the first failure.
//
// Node SDK differences from the Python SDK that this script deliberately exercises:
// * query strings go through `qs` with arrayFormat "brackets" and RFC 3986 encoding, so keys
//   arrive percent-encoded (`status%5B%5D=paid`, `created_at%5Bgte%5D=...`);
// * a query param set to `null` is NOT dropped (Python drops it): it is sent as `key=`;
// * dates are plain strings in the typings; a JS `Date` serialises as `...T00:00:00.000Z`;
// * every non-GET request gets `Idempotency-Key: stainless-node-retry-<uuid>` unless the
//   caller passes `{ idempotencyKey }` in the request options;
// * `invoices.void()` and DELETEs send no body and no Content-Type;
// * there is no `creditBlocks.update()` (the Python SDK has `credit_blocks.update`), so E21 is
//   called through the client's generic `client.put()`;
// * error subclasses copy `status`/`type`/`detail`/`title` from the JSON body, so a missing
//   `status` key in an error body would leave `err.status` undefined.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Orb from 'orb-billing';

const baseURL = process.env.DRAWDOWN_BASE_URL;
const apiKey = process.env.DRAWDOWN_API_KEY;
if (!baseURL || !apiKey) {
  console.error('FAIL: set DRAWDOWN_BASE_URL and DRAWDOWN_API_KEY');
  process.exit(2);
}

const ERR = 'https://docs.withorb.com/reference/error-responses#';
const client = new Orb({ apiKey, baseURL });
let checks = 0;

async function check(name, fn) {
  try {
    await fn();
  } catch (err) {
    console.error(`FAIL ${name}`);
    console.error(err?.stack ?? err);
    if (err?.error) console.error('error body:', JSON.stringify(err.error));
    process.exit(1);
  }
  checks += 1;
  console.log(`ok   ${name}`);
}

async function rejects(promise, ErrorClass) {
  try {
    await promise;
  } catch (err) {
    assert.ok(
      err instanceof ErrorClass,
      `expected ${ErrorClass.name}, got ${err?.constructor?.name}: ${err?.message}`,
    );
    return err;
  }
  assert.fail(`expected ${ErrorClass.name}, but the call succeeded`);
}

async function collect(pagePromise) {
  const items = [];
  for await (const item of pagePromise) items.push(item);
  return items;
}

const uid = () => randomUUID().replaceAll('-', '').slice(0, 10);
const ledger = client.customers.credits.ledger;
const pick = (obj, keys) => Object.fromEntries(keys.map((k) => [k, obj[k]]));
const ENTRY_KEYS = ['entry_type', 'amount', 'starting_balance', 'ending_balance', 'ledger_sequence_number'];

// --- ping ------------------------------------------------------------------------------------

await check('ping', async () => {
  assert.deepEqual(await client.topLevel.ping(), { response: 'pong' });
});

// --- customers -------------------------------------------------------------------------------

const ext = `node-${uid()}`;
let customer;
await check('customers.create', async () => {
  customer = await client.customers.create({
    name: 'Node Acme',
    email: 'billing@node.test',
    external_customer_id: ext,
    currency: 'usd',
    timezone: 'America/Los_Angeles',
    metadata: { tier: 'gold', gone: null },
  });
  assert.match(customer.id, /^[A-Za-z0-9]{16}$/);
  assert.equal(customer.external_customer_id, ext);
  assert.equal(customer.name, 'Node Acme');
  assert.equal(customer.email, 'billing@node.test');
  assert.equal(customer.currency, 'USD');
  assert.equal(customer.timezone, 'America/Los_Angeles');
  assert.deepEqual(customer.metadata, { tier: 'gold' });
  assert.equal(customer.balance, '0.00');
  assert.deepEqual(customer.additional_emails, []);
  assert.equal(customer.auto_collection, false);
  assert.equal(customer.email_delivery, true);
  assert.deepEqual(customer.hierarchy, { children: [], parent: null });
  assert.equal(customer.portal_url, null);
  assert.match(customer.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/);
});

await check('customers.fetch', async () => {
  assert.deepEqual(await client.customers.fetch(customer.id), customer);
});

await check('customers.fetchByExternalID', async () => {
  assert.deepEqual(await client.customers.fetchByExternalID(ext), customer);
});

await check('customers.update (partial, metadata merge)', async () => {
  const updated = await client.customers.update(customer.id, {
    name: 'Node Acme Inc',
    metadata: { tier: null, plan: 'pro' },
  });
  assert.equal(updated.id, customer.id);
  assert.equal(updated.name, 'Node Acme Inc');
  assert.equal(updated.email, 'billing@node.test');
  assert.deepEqual(updated.metadata, { plan: 'pro' });
  assert.equal(updated.timezone, 'America/Los_Angeles');
  assert.deepEqual(await client.customers.fetch(customer.id), updated);
  customer = updated;
});

await check('customers.updateByExternalID', async () => {
  const updated = await client.customers.updateByExternalID(ext, { email: 'ap@node.test' });
  assert.equal(updated.id, customer.id);
  assert.equal(updated.email, 'ap@node.test');
  customer = updated;
});

const listed = [];
await check('customers.list auto-pagination (limit 2, created_at[gte])', async () => {
  for (let i = 0; i < 4; i++) {
    listed.push(await client.customers.create({ name: `Page ${i}`, email: `p${i}@node.test` }));
  }
  const since = listed[0].created_at;
  const first = await client.customers.list({ limit: 2, 'created_at[gte]': since });
  assert.equal(first.data.length, 2);
  assert.equal(first.pagination_metadata.has_more, true);
  assert.equal(typeof first.pagination_metadata.next_cursor, 'string');
  assert.equal(first.hasNextPage(), true);
  const all = await collect(client.customers.list({ limit: 2, 'created_at[gte]': since }));
  assert.deepEqual(
    all.map((c) => c.id),
    listed.map((c) => c.id).reverse(),
  );
  const everyone = await collect(client.customers.list({ limit: 3 }));
  assert.equal(everyone.length, 5);
  assert.equal(everyone.at(-1).id, customer.id);
});

await check('customers.list with null params (sent as `key=` by the Node SDK)', async () => {
  const page = await client.customers.list({ limit: 2, cursor: null, 'created_at[gte]': null });
  assert.deepEqual(
    page.data.map((c) => c.id),
    [listed[3].id, listed[2].id],
  );
});

// --- ledger entries ----------------------------------------------------------------------------

const cid = customer.id;
let incA;
let incB;
await check('ledger.createEntry increment (date expiry, cost basis, metadata)', async () => {
  incA = await ledger.createEntry(cid, {
    entry_type: 'increment',
    amount: 100,
    expiry_date: '2099-01-01',
    per_unit_cost_basis: '0.50',
    description: 'first grant',
    metadata: { source: 'smoke', drop: null },
  });
  assert.deepEqual(pick(incA, ENTRY_KEYS), {
    entry_type: 'increment',
    amount: 100,
    starting_balance: 0,
    ending_balance: 100,
    ledger_sequence_number: 1,
  });
  assert.equal(incA.entry_status, 'committed');
  assert.equal(incA.currency, 'credits');
  assert.equal(incA.description, 'first grant');
  assert.deepEqual(incA.metadata, { source: 'smoke' });
  assert.equal(incA.created_invoices, null);
  assert.deepEqual(incA.customer, { id: cid, external_customer_id: ext });
  // date-only expiry resolves to midnight in the customer's timezone (America/Los_Angeles, PST)
  assert.deepEqual(incA.credit_block, {
    id: incA.credit_block.id,
    expiry_date: '2099-01-01T08:00:00Z',
    per_unit_cost_basis: '0.50',
    filters: [],
  });
});

await check('ledger.createEntry increment (JS Date ISO expiry with milliseconds)', async () => {
  incB = await ledger.createEntry(cid, {
    entry_type: 'increment',
    amount: 50,
    expiry_date: new Date(Date.UTC(2099, 5, 1)).toISOString(), // 2099-06-01T00:00:00.000Z
    per_unit_cost_basis: '0.10',
  });
  assert.deepEqual(pick(incB, ENTRY_KEYS), {
    entry_type: 'increment',
    amount: 50,
    starting_balance: 100,
    ending_balance: 150,
    ledger_sequence_number: 2,
  });
  assert.equal(incB.credit_block.expiry_date, '2099-06-01T00:00:00Z');
  assert.deepEqual(incB.metadata, {});
  assert.equal(incB.description, null);
});
const blockA = incA?.credit_block.id;
const blockB = incB?.credit_block.id;

await check('ledger.createEntry decrement spanning two blocks', async () => {
  const dec = await ledger.createEntry(cid, {
    entry_type: 'decrement',
    amount: 120,
    description: 'usage',
  });
  // A expires first: 100 from A (seq 3), the remaining 20 from B (seq 4); response = last entry
  assert.deepEqual(pick(dec, ENTRY_KEYS), {
    entry_type: 'decrement',
    amount: 20,
    starting_balance: 50,
    ending_balance: 30,
    ledger_sequence_number: 4,
  });
  assert.equal(dec.credit_block.id, blockB);
  assert.equal(dec.description, 'usage');
  assert.equal(dec.event_id, null);
  assert.equal(dec.invoice_id, null);
  assert.equal(dec.price_id, null);
});

let voidEntry;
await check('ledger.createEntry void', async () => {
  voidEntry = await ledger.createEntry(cid, {
    entry_type: 'void',
    block_id: blockB,
    amount: 10,
    void_reason: 'refund',
  });
  assert.deepEqual(pick(voidEntry, ENTRY_KEYS), {
    entry_type: 'void',
    amount: 10,
    starting_balance: 30,
    ending_balance: 20,
    ledger_sequence_number: 5,
  });
  assert.equal(voidEntry.void_amount, 10);
  assert.equal(voidEntry.void_reason, 'refund');
  assert.equal(voidEntry.credit_block.id, blockB);
});

await check('ledger.createEntry amendment', async () => {
  const amd = await ledger.createEntry(cid, { entry_type: 'amendment', block_id: blockA, amount: 5 });
  assert.deepEqual(pick(amd, ENTRY_KEYS), {
    entry_type: 'amendment',
    amount: 5,
    starting_balance: 20,
    ending_balance: 25,
    ledger_sequence_number: 6,
  });
  assert.equal(amd.credit_block.id, blockA);
});

await check('ledger.createEntry expiration_change', async () => {
  const exp = await ledger.createEntry(cid, {
    entry_type: 'expiration_change',
    block_id: blockB,
    target_expiry_date: '2099-03-01',
    amount: 10,
  });
  assert.deepEqual(pick(exp, ENTRY_KEYS), {
    entry_type: 'expiration_change',
    amount: 10,
    starting_balance: 25,
    ending_balance: 25,
    ledger_sequence_number: 7,
  });
  assert.equal(exp.new_block_expiry_date, '2099-03-01T08:00:00Z');
  assert.equal(exp.credit_block.id, blockB);
});

const seqs = (entries) => entries.map((e) => e.ledger_sequence_number);
await check('ledger.list auto-pagination (limit 3)', async () => {
  const all = await collect(ledger.list(cid, { limit: 3 }));
  assert.deepEqual(seqs(all), [7, 6, 5, 4, 3, 2, 1]);
  assert.deepEqual(
    all.map((e) => e.entry_type),
    ['expiration_change', 'amendment', 'void', 'decrement', 'decrement', 'increment', 'increment'],
  );
  assert.equal(all[6].id, incA.id);
});

await check('ledger.list entry_type=decrement', async () => {
  const page = await ledger.list(cid, { entry_type: 'decrement' });
  assert.deepEqual(seqs(page.data), [4, 3]);
  assert.deepEqual(
    page.data.map((e) => [e.credit_block.id, e.amount]),
    [
      [blockB, 20],
      [blockA, 100],
    ],
  );
  assert.deepEqual(page.pagination_metadata, { has_more: false, next_cursor: null });
});

await check('ledger.list minimum_amount=50', async () => {
  const page = await ledger.list(cid, { minimum_amount: '50' });
  assert.deepEqual(seqs(page.data), [3, 2, 1]);
});

await check('ledger.list created_at[gte] + currency', async () => {
  const page = await ledger.list(cid, { 'created_at[gte]': voidEntry.created_at, currency: 'credits' });
  assert.deepEqual(seqs(page.data), [7, 6, 5]);
});

await check('ledger.listByExternalID with null params', async () => {
  const page = await ledger.listByExternalID(ext, {
    limit: 2,
    cursor: null,
    currency: null,
    entry_type: null,
    entry_status: null,
    minimum_amount: null,
    'created_at[gte]': null,
  });
  assert.deepEqual(seqs(page.data), [7, 6]);
});

// --- credit blocks -----------------------------------------------------------------------------

let blockD;
await check('credits.list default vs include_all_blocks', async () => {
  const incD = await ledger.createEntry(cid, { entry_type: 'increment', amount: 5 });
  blockD = incD.credit_block.id;
  await ledger.createEntry(cid, { entry_type: 'void', block_id: blockD, amount: 5 });
  const summary = (blocks) => blocks.map((b) => [b.balance, b.maximum_initial_balance, b.expiry_date]);
  const shown = await client.customers.credits.list(cid);
  // drawdown order: soonest expiry first, never-expiring last; D (balance 0) hidden by default
  assert.deepEqual(summary(shown.data), [
    [5, 100, '2099-01-01T08:00:00Z'],
    [10, 10, '2099-03-01T08:00:00Z'],
    [10, 50, '2099-06-01T00:00:00Z'],
  ]);
  const all = await client.customers.credits.list(cid, { include_all_blocks: true });
  assert.deepEqual(summary(all.data), [...summary(shown.data), [0, 5, null]]);
  assert.equal(all.data[3].id, blockD);
  const byExt = await client.customers.credits.listByExternalID(ext, {
    include_all_blocks: false,
    currency: null,
    'effective_date[lte]': null,
  });
  assert.deepEqual(summary(byExt.data), summary(shown.data));
});

await check('creditBlocks.retrieve', async () => {
  const block = await client.creditBlocks.retrieve(blockB);
  assert.deepEqual(block, {
    id: blockB,
    balance: 10,
    maximum_initial_balance: 50,
    effective_date: block.effective_date,
    expiry_date: '2099-06-01T00:00:00Z',
    per_unit_cost_basis: '0.10',
    filters: [],
    metadata: {},
    status: 'active',
    credit_block_source: 'manual',
    credit_allocation: null,
    credit_commitment: null,
  });
  assert.match(block.effective_date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

await check('credit block metadata update (PUT /credit_blocks/{id} via client.put)', async () => {
  // orb-billing for Node has no creditBlocks.update(); the generic client call hits E21
  const block = await client.put(`/credit_blocks/${blockA}`, {
    body: { metadata: { po: 'PO-1', gone: null } },
  });
  assert.equal(block.id, blockA);
  assert.deepEqual(block.metadata, { source: 'smoke', po: 'PO-1' }); // merged
  assert.deepEqual((await client.creditBlocks.retrieve(blockA)).metadata, { po: 'PO-1', source: 'smoke' });
  const inc = await ledger.list(cid, { entry_type: 'increment', limit: 10 });
  assert.deepEqual(inc.data.at(-1).metadata, { po: 'PO-1', source: 'smoke' });
});

await check('creditBlocks.delete', async () => {
  const result = await client.creditBlocks.delete(blockD);
  assert.equal(result, null); // 204: the SDK resolves with null
  const err = await rejects(client.creditBlocks.retrieve(blockD), Orb.NotFoundError);
  assert.equal(err.status, 404);
  const all = await client.customers.credits.list(cid, { include_all_blocks: true });
  assert.deepEqual(
    all.data.map((b) => b.id),
    [blockA, all.data[1].id, blockB],
  );
});

// --- invoices ----------------------------------------------------------------------------------

let paidInvoice;
let voidInvoice;
await check('increment with invoice_settings creates an issued invoice', async () => {
  const entry = await ledger.createEntry(cid, {
    entry_type: 'increment',
    amount: 100,
    per_unit_cost_basis: '0.255',
    invoice_settings: {
      auto_collection: false,
      net_terms: 30,
      invoice_date: '2024-01-10',
      memo: 'Thanks!',
    },
  });
  assert.equal(entry.created_invoices.length, 1);
  paidInvoice = entry.created_invoices[0];
  assert.equal(paidInvoice.status, 'issued');
  assert.equal(paidInvoice.currency, 'USD');
  assert.equal(paidInvoice.invoice_source, 'one_off');
  assert.equal(paidInvoice.total, '25.50');
  assert.equal(paidInvoice.subtotal, '25.50');
  assert.equal(paidInvoice.amount_due, '25.50');
  assert.equal(paidInvoice.memo, 'Thanks!');
  assert.equal(paidInvoice.invoice_date, '2024-01-10T08:00:00Z');
  assert.equal(paidInvoice.due_date, '2024-02-09T08:00:00Z');
  assert.deepEqual(paidInvoice.customer, { id: cid, external_customer_id: ext });
  assert.deepEqual(paidInvoice.auto_collection, {
    enabled: false,
    next_attempt_at: null,
    num_attempts: null,
    previously_attempted_at: null,
  });
  assert.equal(paidInvoice.line_items.length, 1);
  assert.equal(paidInvoice.line_items[0].quantity, 100);
  assert.equal(paidInvoice.line_items[0].amount, '25.50');
  assert.equal(paidInvoice.line_items[0].name, 'Credits');
  assert.equal(paidInvoice.paid_at, null);
  assert.equal(paidInvoice.voided_at, null);
});

await check('invoices.fetch', async () => {
  const invoice = await client.invoices.fetch(paidInvoice.id);
  assert.deepEqual(invoice, paidInvoice);
});

await check('invoices.markPaid', async () => {
  const invoice = await client.invoices.markPaid(paidInvoice.id, {
    payment_received_date: '2024-01-15',
    external_id: 'wire-1',
    notes: 'by wire',
  });
  assert.equal(invoice.status, 'paid');
  // not a spec'd date-boundary field, so fractions may appear: compare instants
  assert.equal(Date.parse(invoice.payment_received_at), Date.parse('2024-01-15T08:00:00Z'));
  assert.match(invoice.paid_at, /^\d{4}-\d\d-\d\dT/);
  paidInvoice = invoice;
});

await check('invoices.void (no request body) voids the pending_payment block', async () => {
  const entry = await ledger.createEntry(cid, {
    entry_type: 'increment',
    amount: 40,
    per_unit_cost_basis: '1',
    invoice_settings: {
      auto_collection: true,
      net_terms: 0,
      invoice_date: '2024-02-01',
      require_successful_payment: true,
    },
  });
  const block = await client.creditBlocks.retrieve(entry.credit_block.id);
  assert.equal(block.status, 'pending_payment');
  assert.equal(block.balance, 40);
  voidInvoice = await client.invoices.void(entry.created_invoices[0].id);
  assert.equal(voidInvoice.status, 'void');
  assert.equal(voidInvoice.total, '40.00');
  assert.equal(voidInvoice.due_date, '2024-02-01T08:00:00Z');
  assert.match(voidInvoice.voided_at, /^\d{4}-\d\d-\d\dT/);
  assert.equal((await client.creditBlocks.retrieve(entry.credit_block.id)).balance, 0);
});

await check('invoices.list status[] filter', async () => {
  const ids = (page) => page.data.map((i) => i.id);
  const base = { customer_id: cid };
  assert.deepEqual(ids(await client.invoices.list({ ...base, status: ['void'] })), [voidInvoice.id]);
  assert.deepEqual(ids(await client.invoices.list({ ...base, status: ['paid'] })), [paidInvoice.id]);
  assert.deepEqual(ids(await client.invoices.list({ ...base, status: ['issued'] })), []);
  // newest invoice_date first
  assert.deepEqual(ids(await client.invoices.list({ ...base, status: ['paid', 'void'] })), [
    voidInvoice.id,
    paidInvoice.id,
  ]);
  // default: issued, paid and synced only
  assert.deepEqual(ids(await client.invoices.list(base)), [paidInvoice.id]);
  const external = await client.invoices.list({ external_customer_id: ext, status: ['void'], limit: 1 });
  assert.deepEqual(ids(external), [voidInvoice.id]);
});

await check('invoices.list with null params', async () => {
  const page = await client.invoices.list({
    customer_id: cid,
    status: null,
    due_date: null,
    'due_date[gt]': null,
    'invoice_date[gte]': null,
    amount: null,
    external_customer_id: null,
    subscription_id: null,
    is_recurring: null,
    cursor: null,
  });
  assert.deepEqual(
    page.data.map((i) => i.id),
    [paidInvoice.id],
  );
});

await check('creditBlocks.listInvoices', async () => {
  const lastIncrement = (await ledger.list(cid, { entry_type: 'increment', limit: 1 })).data[0];
  assert.equal(lastIncrement.amount, 40);
  const result = await client.creditBlocks.listInvoices(lastIncrement.credit_block.id);
  assert.equal(result.block.id, lastIncrement.credit_block.id);
  assert.deepEqual(
    result.invoices.map((i) => [i.id, i.status]),
    [[voidInvoice.id, 'void']],
  );
});

// --- top-ups -----------------------------------------------------------------------------------

let topUp;
await check('topUps.create', async () => {
  topUp = await client.customers.credits.topUps.create(cid, {
    currency: 'credits',
    threshold: '10',
    amount: '100',
    per_unit_cost_basis: '0.10',
    invoice_settings: { auto_collection: false, net_terms: 0, memo: 'auto top-up' },
    expires_after: 30,
    expires_after_unit: 'day',
  });
  assert.match(topUp.id, /^[A-Za-z0-9]{16}$/);
  assert.deepEqual(topUp, {
    id: topUp.id,
    currency: 'credits',
    threshold: '10',
    amount: '100',
    per_unit_cost_basis: '0.10',
    invoice_settings: {
      auto_collection: false,
      net_terms: 0,
      memo: 'auto top-up',
      require_successful_payment: false,
    },
    expires_after: 30,
    expires_after_unit: 'day',
  });
});

await check('topUps.list', async () => {
  const page = await client.customers.credits.topUps.list(cid);
  assert.deepEqual(page.data, [topUp]);
  const byExt = await client.customers.credits.topUps.listByExternalID(ext, { limit: 5 });
  assert.deepEqual(byExt.data, [topUp]);
});

await check('topUps.delete', async () => {
  const result = await client.customers.credits.topUps.delete(topUp.id, { customer_id: cid });
  assert.equal(result, null);
  assert.deepEqual((await client.customers.credits.topUps.list(cid)).data, []);
  await rejects(client.customers.credits.topUps.delete(topUp.id, { customer_id: cid }), Orb.NotFoundError);
});

// --- errors ------------------------------------------------------------------------------------

await check('NotFoundError on unknown customer', async () => {
  const err = await rejects(client.customers.fetch('NoSuchCustomer00'), Orb.NotFoundError);
  assert.ok(err instanceof Orb.ResourceNotFound, err.constructor.name);
  assert.equal(err.status, 404);
  assert.equal(err.type, `${ERR}404-resource-not-found`);
  assert.equal(err.error.title, 'A specified resource was not found.');
  await rejects(ledger.createEntry('NoSuchCustomer00', { entry_type: 'increment', amount: 1 }), Orb.NotFoundError);
});

await check('NotFoundError (URLNotFound) on an unknown path', async () => {
  const err = await rejects(client.get('/no/such/path'), Orb.NotFoundError);
  assert.ok(err instanceof Orb.URLNotFound, err.constructor.name);
  assert.equal(err.type, `${ERR}404-url-not-found`);
});

await check('BadRequestError on amount 0', async () => {
  const err = await rejects(
    ledger.createEntry(cid, { entry_type: 'increment', amount: 0 }),
    Orb.BadRequestError,
  );
  assert.ok(err instanceof Orb.RequestValidationError, err.constructor.name);
  assert.equal(err.status, 400);
  assert.equal(err.type, `${ERR}400-request-validation-errors`);
  assert.equal(err.error.type, `${ERR}400-request-validation-errors`);
  assert.equal(err.title, 'Request validation error');
  assert.deepEqual(err.validation_errors, [{ field: 'amount', message: 'must be greater than 0' }]);
});

await check('BadRequestError (ConstraintViolation) on voiding a paid invoice', async () => {
  const err = await rejects(client.invoices.void(paidInvoice.id), Orb.BadRequestError);
  assert.ok(err instanceof Orb.ConstraintViolation, err.constructor.name);
  assert.equal(err.type, `${ERR}400-constraint-violation`);
});

await check('AuthenticationError on a bad key', async () => {
  const bad = new Orb({ apiKey: 'dd_not_a_real_key', baseURL, maxRetries: 0 });
  const err = await rejects(bad.topLevel.ping(), Orb.AuthenticationError);
  assert.ok(err instanceof Orb.OrbAuthenticationError, err.constructor.name);
  assert.equal(err.status, 401);
  assert.equal(err.type, `${ERR}401-authentication-error`);
});

await check('idempotencyKey replays the original response', async () => {
  const idempotencyKey = `node-smoke-${randomUUID()}`;
  const body = { entry_type: 'increment', amount: 3, description: 'idem' };
  const first = await ledger.createEntry(cid, body, { idempotencyKey }).withResponse();
  assert.equal(first.response.status, 201);
  assert.equal(first.response.headers.get('idempotency-key'), idempotencyKey);
  const again = await ledger.createEntry(cid, body, { idempotencyKey }).withResponse();
  assert.equal(again.response.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(again.data, first.data);
  const increments = await ledger.list(cid, { entry_type: 'increment' });
  assert.equal(increments.data.filter((e) => e.description === 'idem').length, 1);
});

await check('ConflictError on an idempotency key reused with a different body', async () => {
  const idempotencyKey = `node-smoke-${randomUUID()}`;
  await ledger.createEntry(cid, { entry_type: 'increment', amount: 1 }, { idempotencyKey });
  const started = Date.now();
  const err = await rejects(
    ledger.createEntry(cid, { entry_type: 'increment', amount: 2 }, { idempotencyKey }),
    Orb.ConflictError,
  );
  assert.ok(err instanceof Orb.ResourceConflict, err.constructor.name);
  assert.equal(err.status, 409);
  assert.equal(err.type, `${ERR}409-resource-conflict`);
  assert.equal(err.headers.get('x-should-retry'), 'false');
  assert.ok(Date.now() - started < 400, 'the SDK should not have retried (x-should-retry: false)');
});

await check('events.ingest: a batch accepted, a duplicate ignored, an invalid batch refused whole', async () => {
  const event = {
    idempotency_key: `node-ev-${randomUUID()}`,
    event_name: 'node_call',
    timestamp: new Date().toISOString(),
    properties: { n: 1 },
    external_customer_id: ext,
  };
  assert.deepEqual(await client.events.ingest({ events: [event] }), { validation_failed: [] });
  assert.deepEqual(await client.events.ingest({ events: [event] }), { validation_failed: [] });
  const nested = { ...event, idempotency_key: `node-ev-${randomUUID()}`, properties: { a: { b: 1 } } };
  const fresh = { ...event, idempotency_key: `node-ev-${randomUUID()}` };
  const err = await rejects(client.events.ingest({ events: [fresh, nested] }), Orb.BadRequestError);
  assert.equal(err.status, 400);
  assert.equal(err.type, `${ERR}400-request-validation-errors`);
  assert.deepEqual(
    err.error.validation_failed.map((f) => f.idempotency_key),
    [nested.idempotency_key],
  );
  // Refused whole: the valid event of that batch was not stored, so it is new now. This SDK
  // version has no `debug` parameter; the generic client sends it as the Python SDK does.
  const debug = await client.post('/ingest', { query: { debug: true }, body: { events: [fresh, event] } });
  assert.deepEqual(debug, {
    validation_failed: [],
    debug: { duplicate: [event.idempotency_key], ingested: [fresh.idempotency_key] },
  });
});

// --- alerts (customer credit-balance alerts) ----------------------------------------------------

let dropped;
await check('alerts.createForCustomer / createForExternalCustomer', async () => {
  dropped = await client.alerts.createForCustomer(cid, {
    currency: 'credits',
    type: 'credit_balance_dropped',
    thresholds: [{ value: 25 }, { value: 10 }],
  });
  assert.match(dropped.id, /^[A-Za-z0-9]{16}$/);
  assert.deepEqual(
    pick(dropped, ['type', 'currency', 'enabled', 'thresholds', 'customer', 'plan', 'metric']),
    {
      type: 'credit_balance_dropped',
      currency: 'credits',
      enabled: true,
      thresholds: [{ value: 10 }, { value: 25 }],
      customer: { id: cid, external_customer_id: ext },
      plan: null,
      metric: null,
    },
  );
  assert.equal(dropped.balance_alert_status.length, 2);
  const depleted = await client.alerts.createForExternalCustomer(ext, {
    currency: 'usd',
    type: 'credit_balance_depleted',
    thresholds: null,
  });
  assert.equal(depleted.currency, 'USD');
  assert.equal(depleted.thresholds, null);
  assert.deepEqual(depleted.balance_alert_status.map((s) => s.threshold_value), [0]);
});

await check('alerts.list by customer id and external id (null params sent as `key=`)', async () => {
  const byId = await collect(client.alerts.list({ customer_id: cid, limit: 1 }));
  assert.deepEqual(
    byId.map((a) => a.type),
    ['credit_balance_depleted', 'credit_balance_dropped'],
  );
  const byExternal = await client.alerts.list({ external_customer_id: ext, subscription_id: null });
  assert.deepEqual(
    byExternal.data.map((a) => a.id),
    byId.map((a) => a.id),
  );
});

await check('alerts.disable / enable / retrieve / update / delete', async () => {
  assert.equal((await client.alerts.disable(dropped.id)).enabled, false);
  assert.equal((await client.alerts.retrieve(dropped.id)).enabled, false);
  assert.equal((await client.alerts.enable(dropped.id, { subscription_id: null })).enabled, true);
  const updated = await client.alerts.update(dropped.id, { thresholds: [{ value: '7.5' }] });
  assert.deepEqual(updated.thresholds, [{ value: 7.5 }]);
  await client.alerts.delete(dropped.id);
  await rejects(client.alerts.retrieve(dropped.id), Orb.NotFoundError);
});

await check('alerts refused: bad thresholds, a duplicate, a subscription alert', async () => {
  const err = await rejects(
    client.alerts.createForCustomer(cid, { currency: 'credits', type: 'credit_balance_dropped' }),
    Orb.BadRequestError,
  );
  assert.ok(err instanceof Orb.RequestValidationError, err.constructor.name);
  assert.deepEqual(err.error.validation_errors.map((e) => e.field), ['thresholds']);
  const dup = await rejects(
    client.alerts.createForExternalCustomer(ext, { currency: 'USD', type: 'credit_balance_depleted' }),
    Orb.BadRequestError,
  );
  assert.ok(dup instanceof Orb.DuplicateResourceCreation, dup.constructor.name);
  const sub = await rejects(
    client.alerts.createForSubscription('sub', { type: 'cost_exceeded', thresholds: [{ value: 1 }] }),
    Orb.BadRequestError,
  );
  assert.ok(sub instanceof Orb.FeatureNotAvailable, sub.constructor.name);
});

console.log(`all ${checks} checks passed`);
