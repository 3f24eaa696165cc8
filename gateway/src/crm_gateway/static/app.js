// CRM UI: a password login sets an HttpOnly session cookie (no token in the page or in
// storage); every write sends the session's CSRF token back as X-CSRF-Token.
"use strict";
const $ = (id) => document.getElementById(id);
const LABELS = { kind: "Druh", ico: "IČO", dic: "DIČ", vat_payer: "Plátce DPH",
  vat_group_dic: "DIČ skupiny DPH", established_on: "Vznik", dissolved_on: "Zaniklý dne",
  legal_form_name: "Právní forma", nace: "CZ-NACE", email: "E-mail", phone: "Telefon",
  address: "Sídlo", delivery_address: "Doručovací adresa", registry: "Registr (ARES)",
  updated_in_registry_on: "Změna v registru", created_at: "Vytvořen", updated_at: "Změněn" };
const KINDS = { company: "firma", person: "osoba" };
const REGISTRY = { pending: "načítá se", ok: "načteno", not_found: "IČO v ARES nenalezeno",
  invalid: "ARES IČO odmítl", unavailable: "ARES nedostupný, zkusí se znovu" };
const TYPES = { note: "Poznámka", meeting: "Schůzka", call: "Telefonát", email: "E-mail",
  task: "Úkol", system: "Systém" };
let nextCursor = null;
let current = null;

let csrfToken = null;

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (options.body) headers["Content-Type"] = "application/json";
  if (csrfToken && options.method && options.method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  if (response.status === 401 && !path.startsWith("/api/v1/auth/")) showLogin();
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const problem = body || {};
    const fields = (problem.errors || []).map((e) => `${e.field || ""}: ${e.message}`);
    const text = response.status === 401 && path === "/api/v1/auth/login" ?
        "Špatný e-mail nebo heslo." :
      response.status === 401 ? "Přihlaste se prosím." :
      response.status === 429 ? "Příliš mnoho neúspěšných pokusů; zkuste to později." :
      response.status === 504 ? "Nevíme, zda se to provedlo (služba neodpověděla včas). " +
        "Odešlete formulář znovu: nic se nezdvojí." :
      (problem.detail || problem.title || `Chyba ${response.status}`);
    throw new Error([text, ...fields].join("\n"));
  }
  return body;
}

// One Idempotency-Key per thing the user submits, kept until it succeeds: sending the same
// form again after a timeout ("outcome unknown") returns the first answer, never a duplicate.
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();  // secure contexts only
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function submitOnce(form, path, payload) {
  const body = JSON.stringify(payload);
  if (form.dataset.pending !== path + body) {  // something else than last time: a new request
    form.dataset.pending = path + body;
    form.dataset.idempotencyKey = newKey();
  }
  const result = await api(path, { method: "POST", body,
    headers: { "Idempotency-Key": form.dataset.idempotencyKey } });
  delete form.dataset.pending;
  delete form.dataset.idempotencyKey;
  return result;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function when(iso) { return iso ? new Date(iso).toLocaleString("cs-CZ") : ""; }

async function loadClients(more = false) {
  $("list-error").textContent = "";
  const query = new URLSearchParams({ limit: "50" });
  if (more && nextCursor) query.set("cursor", nextCursor);
  try {
    const page = await api(`/api/v1/clients?${query}`);
    if (!more) $("clients").replaceChildren();
    for (const client of page.items) {
      const item = el("li", null, "client");
      item.append(el("div", client.name), el("div", client.ico ? `IČO ${client.ico}` : "", "muted"));
      item.onclick = () => showClient(client.id);
      $("clients").append(item);
    }
    nextCursor = page.next_cursor;
    $("more").hidden = !nextCursor;
  } catch (err) { $("list-error").textContent = err.message; }
}

async function showClient(id) {
  try {
    const client = await api(`/api/v1/clients/${encodeURIComponent(id)}`);
    current = client;
    $("card").hidden = false;
    $("card-name").textContent = client.name;
    const registry = client.registry;
    const said = (registry && registry.values) || {};  // the register's, also what has no field
    const values = { ...client, kind: KINDS[client.kind] || client.kind,
      established_on: said.established_on, updated_in_registry_on: said.updated_in_registry_on,
      delivery_address: said.delivery_address && said.delivery_address.text,
      vat_payer: client.vat_payer === null ? null : (client.vat_payer ? "ano" : "ne"),
      nace: (client.nace || []).join(", "),
      address: client.registered_address && client.registered_address.text,
      registry: registry && (REGISTRY[registry.status] || registry.status) +
        (registry.fetched_at ? ` (${when(registry.fetched_at)})` : ""),
      created_at: when(client.created_at), updated_at: when(client.updated_at) };
    $("card-data").replaceChildren();
    for (const [key, label] of Object.entries(LABELS)) {
      if (values[key]) $("card-data").append(el("dt", label), el("dd", values[key]));
    }
    await loadTimeline(id);
  } catch (err) { $("list-error").textContent = err.message; }
}

async function loadTimeline(id) {
  $("timeline").replaceChildren();
  try {
    const page = await api(`/api/v1/clients/${encodeURIComponent(id)}/timeline?limit=50`);
    if (!page.items.length) $("timeline").append(el("p", "Zatím žádné záznamy.", "muted"));
    for (const entry of page.items) {
      const box = el("div", null, "entry");
      box.append(el("div", `${TYPES[entry.type] || entry.type} · ${when(entry.occurred_at)}` +
        (entry.author ? ` · ${entry.author}` : ""), "muted"));
      if (entry.title) box.append(el("strong", entry.title));
      // a note of only a title carries it as its body too: shown once
      if (entry.body && entry.body !== entry.title) box.append(el("div", entry.body));
      $("timeline").append(box);
    }
  } catch (err) { $("timeline").append(el("p", err.message, "error")); }
}

$("create").onsubmit = async (event) => {
  event.preventDefault();
  $("create-error").textContent = "";
  const form = new FormData(event.target);
  const payload = {};
  if (form.get("name").trim()) payload.name = form.get("name").trim();
  if (form.get("ico").trim()) payload.ico = form.get("ico").trim();
  try {
    const client = await submitOnce(event.target, "/api/v1/clients", payload);
    event.target.reset();
    await loadClients();
    await showClient(client.id);
  } catch (err) { $("create-error").textContent = err.message; }
};

$("note").onsubmit = async (event) => {
  event.preventDefault();
  if (!current) return;
  $("note-error").textContent = "";
  const form = new FormData(event.target);
  const payload = { type: form.get("type") };
  for (const key of ["title", "body"]) if (form.get(key).trim()) payload[key] = form.get(key).trim();
  try {
    await submitOnce(event.target, `/api/v1/clients/${encodeURIComponent(current.id)}/notes`,
      payload);
    event.target.reset();
    await loadTimeline(current.id);
  } catch (err) { $("note-error").textContent = err.message; }
};

// -- logging in ---------------------------------------------------------------------
let setupToken = new URLSearchParams(location.hash.slice(1)).get("setup");

function showLogin() {
  $("app").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login-box").hidden = false;
  if (setupToken) {
    $("login-title").textContent = "První administrátor";
    $("setup-name").hidden = false;
    $("setup-name").required = true;
  }
}

function showApp(session) {
  csrfToken = session.csrf_token;
  $("login-box").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = session.user ? `${session.user.name} (${session.role})` : session.role;
  loadClients();
}

$("login").onsubmit = async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const form = new FormData(event.target);
  const payload = { email: form.get("email"), password: form.get("password") };
  const path = setupToken ? "/api/v1/auth/setup" : "/api/v1/auth/login";
  if (setupToken) Object.assign(payload, { token: setupToken, name: form.get("name") });
  try {
    const session = await api(path, { method: "POST", body: JSON.stringify(payload) });
    if (setupToken) {  // used up: from now on this page logs in
      history.replaceState(null, "", location.pathname);
      setupToken = null;
      $("login-title").textContent = "Přihlášení";
      $("setup-name").hidden = true;
      $("setup-name").required = false;
    }
    event.target.reset();
    showApp(session);
  } catch (err) { $("login-error").textContent = err.message; }
};

$("logout").onclick = async () => {
  await api("/api/v1/auth/logout", { method: "POST" }).catch(() => null);
  csrfToken = null;
  showLogin();
};
$("more").onclick = () => loadClients(true);
api("/api/v1/auth/session").then(showApp).catch(showLogin);
