// The example single-page app: plain JavaScript, no build step, no token ever in the page.
// Django is its backend for frontend (docs/bff.rst): the session cookie is HttpOnly, and
// the three calls below are all it needs.
"use strict";

const CSRF = { "X-CSRF": "1" }; // the anti-CSRF header of the state-changing calls
const $ = (id) => document.getElementById(id);
const urls = document.body.dataset;
const here = location.pathname + location.search;
// The page's words, in its language (the view translates them; a JSON block, not code).
const strings = JSON.parse($("spa-strings").textContent);
const lang = document.documentElement.lang || undefined;

// A translated string with its %(name)s placeholders filled in.
function t(key, values = {}) {
  return strings[key].replace(/%\((\w+)\)s/g, (whole, name) => values[name] ?? whole);
}

async function json(response) {
  try {
    return await response.json();
  } catch (e) {
    return { error: "not_json", status: response.status };
  }
}

// GET session/: who is signed in (200), or where to sign in (401).
async function loadSession() {
  const response = await fetch(`${urls.sessionUrl}?next=${encodeURIComponent(here)}`, {
    headers: { Accept: "application/json" },
  });
  const session = await json(response);
  if (response.status === 401) {
    showSignedOut(session);
  } else {
    showSignedIn(session);
  }
}

function showSignedOut(session) {
  $("spa-status").textContent = t("signedOut");
  $("spa-signed-in").hidden = true;
  $("spa-signed-out").hidden = false;
  // Sign-in is a top-level navigation to the provider and back to this page.
  $("spa-sign-in").href = session.login_url;
  const list = $("spa-providers");
  list.replaceChildren();
  for (const provider of session.providers || []) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.className = "button secondary";
    link.id = `spa-provider-${provider.name}`;
    link.href = provider.login_url;
    link.textContent = t("signInWith", { name: provider.display_name });
    item.append(link);
    list.append(item);
  }
}

function showSignedIn(session) {
  const user = session.user.email || session.user.username;
  $("spa-status").textContent = session.provider_name
    ? t("signedInAsWith", { user, provider: session.provider_name })
    : t("signedInAs", { user });
  $("spa-signed-out").hidden = true;
  $("spa-signed-in").hidden = false;
  const rows = Object.entries(session.user).map(([name, value]) => {
    const row = document.createElement("tr");
    const key = document.createElement("th");
    const cell = document.createElement("td");
    key.textContent = name;
    cell.textContent = String(value);
    row.append(key, cell);
    return row;
  });
  const until = document.createElement("tr");
  const label = document.createElement("th");
  const when = document.createElement("td");
  label.textContent = t("sessionEnds");
  when.textContent = new Date(session.expires_at * 1000).toLocaleString(lang);
  until.append(label, when);
  $("spa-user").replaceChildren(...rows, until);
  $("spa-sign-out").dataset.logoutUrl = session.logout_url;
}

// GET api/demo/…: the site forwards it with the user's access token.
async function callApi() {
  const response = await fetch(`${urls.apiUrl}hello?from=spa`, {
    headers: { ...CSRF, Accept: "application/json" },
  });
  const body = await json(response);
  const result = $("spa-api-result");
  result.hidden = false;
  result.dataset.status = response.status;
  if (response.status === 401 && body.login_url) {
    result.textContent = t("sessionEnded");
    return loadSession();
  }
  result.textContent = `HTTP ${response.status}\n${JSON.stringify(body, null, 2)}`;
}

// POST logout/: the site signs out and answers the URL to navigate to (the provider's
// end-session page, through a one-time URL of the site's so that no token reaches the page).
async function signOut() {
  const response = await fetch($("spa-sign-out").dataset.logoutUrl, {
    method: "POST",
    headers: CSRF,
    body: new URLSearchParams({ next: here }),
  });
  const body = await json(response);
  location.assign(body.redirect_url || "/");
}

$("spa-call-api").addEventListener("click", callApi);
$("spa-sign-out").addEventListener("click", signOut);
loadSession();
