// The export console's script. It talks to this server's REST API only, with
// the caller's bearer token (sessionStorage, Authorization header; no
// cookies), and builds every piece of the page from data with
// createElement/textContent: nothing from the API is ever parsed as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'pubexport.token';
  const ORG_KEY = 'pubexport.org';
  const SEEN_KEY = 'pubexport.seen.'; // + org: operations seen finished
  const RECENT = 20; // operations the panel and the tabs show
  // The operations page's size: ?pageSize=N in the page's address, else 20.
  const PAGE = Math.min(Math.max(parseInt(new URLSearchParams(location.search).get('pageSize'), 10) || 20, 1), 1000);
  const FAST = 1000; // poll interval while something runs (ms)
  const SLOW = 5000; // poll interval otherwise

  const RESOURCES = { developers: 'Developers', apps: 'Apps', apiproducts: 'API products' };
  const CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
    'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED',
    'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    session: null,
    org: '',
    recent: [], // newest first
    known: new Map(), // name -> done, to announce operations that finish
    timer: 0,
    polling: false,
    loaded: false, // the recent operations of state.org have been listed
    again: false,
    panelOpen: false,
    requestId: '',
    resource: '',
    submitting: false,
    ops: { tokens: [''], page: 0, next: '', items: [] },
  };

  // el builds an element: el('a', {href: u, class: 'x'}, 'text', child).
  // Attributes are set with setAttribute and children as text nodes, so
  // data never becomes markup.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // ---- API ---------------------------------------------------------------

  class APIError extends Error {
    constructor(message, httpStatus, code) {
      super(message);
      this.httpStatus = httpStatus;
      this.code = code;
    }
  }

  async function api(path, { method = 'GET', body } = {}) {
    const headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new APIError('The server cannot be reached (' + e.message + '). Is pubexport serve still running?', 0, 'UNAVAILABLE');
    }
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      throw new APIError(err.message || ('HTTP ' + res.status + ' ' + res.statusText), res.status, err.status || '');
    }
    return data;
  }

  const enc = encodeURIComponent;
  const orgPath = () => '/v1/organizations/' + enc(state.org);

  // ---- formatting --------------------------------------------------------

  function num(v) {
    const n = Number(v || 0);
    return Number.isFinite(n) ? n : 0;
  }

  function count(n) {
    return num(n).toLocaleString('en-US');
  }

  function plural(n, word, words) {
    return count(n) + ' ' + (num(n) === 1 ? word : (words || word + 's'));
  }

  function bytes(n) {
    n = num(n);
    if (n < 1000) return n + ' B';
    const units = ['kB', 'MB', 'GB', 'TB'];
    let i = -1;
    do {
      n /= 1000;
      i++;
    } while (n >= 999.95 && i < units.length - 1);
    return n.toFixed(1) + ' ' + units[i];
  }

  function when(d) {
    if (!d || isNaN(d)) return '';
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  }

  // created reads the creation time out of an operation id (a UUIDv7:
  // its first 48 bits are milliseconds since 1970).
  function created(op) {
    const id = (op.name || '').split('/').pop() || '';
    const hex = id.replace(/-/g, '');
    if (!/^[0-9a-f]{12}7/i.test(hex)) return null;
    return new Date(parseInt(hex.slice(0, 12), 16));
  }

  function idOf(name) {
    return (name || '').split('/').pop();
  }

  function resourceOf(op) {
    const t = (op.metadata && op.metadata.targetResourceName) || '';
    return t.split('/').pop();
  }

  // outcome says where an operation stands, for people (label) and for
  // styles and tests (key).
  function outcome(op) {
    const md = op.metadata || {};
    if (!op.done) {
      if (md.state === 'IN_PROGRESS') return { key: 'RUNNING', label: 'Running' };
      return { key: 'NOT_STARTED', label: 'Waiting to start' };
    }
    if (op.error) {
      if (op.error.code === 1) return { key: 'CANCELLED', label: 'Cancelled' };
      return { key: 'FAILED', label: 'Failed' };
    }
    return { key: 'SUCCEEDED', label: 'Succeeded' };
  }

  function response(op) {
    return (op.done && !op.error && op.response) || null;
  }

  // shortName shortens the hash in ExportFinal_<sha256>.ext for display;
  // the details table shows the whole name.
  function shortName(name) {
    return name.replace(/_([0-9a-f]{8})[0-9a-f]{56}\./, '_$1….');
  }

  // signed is the object's V4 signed URL, if the server made one; only
  // https URLs are links (a damaged record must not make a javascript: one).
  function signed(obj) {
    return /^https:\/\//i.test(obj.downloadUrl || '') ? obj.downloadUrl : '';
  }

  function downloadHref(op, obj) {
    if (signed(obj)) return signed(obj);
    return '/v1/console/download?' + new URLSearchParams({ operation: op.name, object: obj.name }).toString();
  }

  // ---- rendering an operation ---------------------------------------------

  // renderOp builds the list item of an operation; updateOp refreshes it in
  // place so that focus (a Cancel or Download button) survives a poll.
  function renderOp(op, full) {
    const li = el('li', { class: 'op', 'data-name': op.name });
    const head = el('div', { class: 'ophead' },
      el('span', { class: 'optitle' }),
      el('span', { class: 'state' }),
      el('span', { class: 'opmeta' }));
    const bar = el('progress', { max: '100' });
    li.append(head,
      el('div', { class: 'progress' }, bar, el('span', { class: 'numbers' })),
      el('p', { class: 'desc' }),
      el('ul', { class: 'warnings' }),
      el('p', { class: 'operror', role: 'note' }),
      el('div', { class: 'actions' }));
    if (full) {
      const det = el('details', { class: 'opdetails' }, el('summary', {}, 'Details'), el('div', { class: 'detailbody' }));
      det.addEventListener('toggle', () => {
        if (det.open) loadDetails(li, det);
      });
      li.append(det);
    }
    updateOp(li, op);
    return li;
  }

  function updateOp(li, op) {
    const md = op.metadata || {};
    const prog = md.progress || {};
    const det = prog.details || {};
    const resp = response(op);
    const out = outcome(op);
    const res = resourceOf(op);
    li._op = op;
    li.dataset.state = out.key;
    li.dataset.records = String(num(resp ? resp.records : det.records));

    $('.optitle', li).textContent = (RESOURCES[res] || res || 'Export') + ' export';
    const st = $('.state', li);
    st.textContent = out.label;
    st.className = 'state state-' + out.key.toLowerCase();
    const c = created(op);
    $('.opmeta', li).textContent = idOf(op.name) + (c ? ' · started ' + when(c) : '');

    const bar = $('progress', li);
    const pct = prog.percentDone;
    bar.hidden = op.done;
    if (pct === undefined || pct === null) bar.removeAttribute('value');
    else bar.value = num(pct);
    bar.setAttribute('aria-label', 'Progress of ' + idOf(op.name));

    const parts = [];
    const records = resp ? resp.records : det.records;
    const total = det.total;
    parts.push(plural(records, 'record') + (total !== undefined && !op.done ? ' of ' + count(total) : ''));
    parts.push(plural(resp ? resp.pages : det.pages, 'page'));
    if (!op.done && pct !== undefined && pct !== null) parts.push(num(pct) + '%');
    parts.push(bytes(det.bytes));
    $('.numbers', li).textContent = parts.join(' · ');
    $('.desc', li).textContent = prog.description || '';

    const warn = $('.warnings', li);
    const ws = md.warnings || [];
    if (warn.dataset.sig !== JSON.stringify(ws)) {
      warn.dataset.sig = JSON.stringify(ws);
      warn.replaceChildren(...ws.map((w) => el('li', {}, 'Warning: ' + w)));
    }
    const err = $('.operror', li);
    err.textContent = op.error && op.error.code !== 1 ?
      'Error (' + (CODES[op.error.code] || 'code ' + op.error.code) + '): ' + (op.error.message || 'no message') :
      (op.error ? 'Cancelled: ' + (op.error.message || 'the export was stopped') : '');
    err.hidden = !op.error;

    // Actions change only with the state: rebuilding them at every poll
    // would take the focus away from a keyboard user.
    const actions = $('.actions', li);
    const sig = out.key + (resp ? ':' + (resp.objects || []).length : '');
    if (actions.dataset.sig !== sig) {
      actions.dataset.sig = sig;
      actions.replaceChildren(...buildActions(op, resp));
    }
  }

  function buildActions(op, resp) {
    const out = [];
    if (!op.done) {
      const b = el('button', { type: 'button', class: 'cancel' }, 'Cancel');
      b.setAttribute('aria-label', 'Cancel export ' + idOf(op.name));
      b.addEventListener('click', () => cancelOp(op.name, b));
      out.push(b);
    }
    if (resp) {
      for (const obj of resp.objects || []) out.push(downloadLink(op, obj, 'Download'));
      if (resp.manifest && resp.manifest.name) out.push(downloadLink(op, resp.manifest, 'Manifest'));
    }
    return out;
  }

  function downloadLink(op, obj, what) {
    const a = el('a', {
      class: 'download' + (what === 'Manifest' ? ' manifest' : ''),
      href: downloadHref(op, obj),
      'data-object': obj.name,
      'data-sha256': obj.sha256 || '',
      rel: 'noopener noreferrer',
    }, what + ' ', el('span', { class: 'objname' }, shortName(obj.name)), ' (' + bytes(obj.size) + ')');
    a.title = obj.name;
    if (!signed(obj)) a.addEventListener('click', (ev) => download(ev, a, obj.name));
    return a;
  }

  // download fetches an object with the caller's token and hands it to the
  // browser as a file. Without authentication, the link works by itself
  // (and streams to disk without holding the object in memory).
  async function download(ev, a, name) {
    if (!state.token) return;
    ev.preventDefault();
    if (a.getAttribute('aria-busy') === 'true') return;
    a.setAttribute('aria-busy', 'true');
    say('Downloading ' + name + '…');
    try {
      const res = await fetch(a.href, { headers: { Authorization: 'Bearer ' + state.token }, credentials: 'omit', cache: 'no-store' });
      if (!res.ok) {
        let msg = 'HTTP ' + res.status;
        try {
          msg = (await res.json()).error.message;
        } catch (e) { /* keep the status */ }
        throw new Error(msg);
      }
      const url = URL.createObjectURL(await res.blob());
      const tmp = el('a', { href: url, download: name, hidden: true });
      document.body.append(tmp);
      tmp.click();
      tmp.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      say('Downloaded ' + name + '.');
    } catch (e) {
      say('Download of ' + name + ' failed: ' + e.message, true);
    } finally {
      a.removeAttribute('aria-busy');
    }
  }

  async function cancelOp(name, button) {
    button.disabled = true;
    try {
      await api('/v1/' + name.split('/').map(enc).join('/') + ':cancel', { method: 'POST', body: {} });
      say('Cancelling export ' + idOf(name) + '.');
    } catch (e) {
      say('Could not cancel ' + idOf(name) + ': ' + e.message, true);
      button.disabled = false;
    }
    poll();
  }

  async function loadDetails(li, det) {
    const body = $('.detailbody', det);
    if (body.dataset.loaded) return;
    body.dataset.loaded = '1';
    const op = li._op;
    let d = null;
    try {
      d = await api('/v1/console/details?' + new URLSearchParams({ operation: op.name }).toString());
    } catch (e) {
      body.append(el('p', { class: 'error' }, 'Request details unavailable: ' + e.message));
    }
    body.append(detailList(op, d));
    const resp = response(op);
    if (resp) body.append(objectTable(op, resp));
  }

  function detailList(op, d) {
    const md = op.metadata || {};
    const resp = response(op) || {};
    const rows = [
      ['Operation', op.name],
      ['Target', md.targetResourceName || ''],
      ['State', outcome(op).label],
    ];
    if (d) {
      rows.push(['Format', d.format + (d.compression ? ', ' + d.compression : '')]);
      rows.push(['Destination', d.destination]);
      rows.push(['Consumer secrets', d.includeSecrets ? 'included' : 'redacted']);
      rows.push(['Created', when(new Date(d.createTime))]);
      rows.push(['Last update', when(new Date(d.updateTime))]);
      if (d.attempts > 1) rows.push(['Attempts', String(d.attempts)]);
    }
    if (resp.startTime) rows.push(['Started', when(new Date(resp.startTime))]);
    if (resp.endTime) rows.push(['Finished', when(new Date(resp.endTime))]);
    if (op.done && resp.records !== undefined) {
      rows.push(['Records', count(resp.records) + ' in ' + plural(resp.pages, 'page')]);
      if (num(resp.duplicatesSkipped)) rows.push(['Duplicates skipped', count(resp.duplicatesSkipped)]);
    }
    const dl = el('dl', { class: 'facts' });
    for (const [k, v] of rows) {
      if (v === '') continue;
      dl.append(el('dt', {}, k), el('dd', {}, v));
    }
    return dl;
  }

  function objectTable(op, resp) {
    const objs = (resp.objects || []).concat(resp.manifest && resp.manifest.name ? [resp.manifest] : []);
    const table = el('table', { class: 'objects' },
      el('caption', {}, 'Objects'),
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, 'Object'), el('th', { scope: 'col' }, 'Size'),
        el('th', { scope: 'col' }, 'Records'), el('th', { scope: 'col' }, 'SHA-256'))));
    const tb = el('tbody');
    for (const o of objs) {
      tb.append(el('tr', {},
        el('td', {}, downloadLink(op, o, o === resp.manifest ? 'Manifest' : 'Download'), el('br'), el('span', { class: 'uri' }, o.uri || '')),
        el('td', {}, bytes(o.size)),
        el('td', {}, o === resp.manifest ? '' : count(o.records)),
        el('td', {}, el('code', { class: 'hash' }, o.sha256 || ''))));
    }
    table.append(tb);
    return el('div', { class: 'tablewrap' }, table);
  }

  // syncList makes list show ops in order, reusing the items it has.
  function syncList(list, ops, full, empty) {
    if (!list) return;
    const have = new Map($$(':scope > li.op', list).map((li) => [li.dataset.name, li]));
    const items = ops.map((op) => {
      const li = have.get(op.name);
      if (li) {
        updateOp(li, op);
        return li;
      }
      return renderOp(op, full);
    });
    if (!items.length) items.push(el('li', { class: 'empty' }, empty));
    const same = items.length === list.children.length && items.every((li, i) => list.children[i] === li);
    if (!same) list.replaceChildren(...items);
  }

  // ---- notifications --------------------------------------------------------

  function seen() {
    try {
      const v = localStorage.getItem(SEEN_KEY + state.org);
      return v === null ? null : new Set(JSON.parse(v));
    } catch (e) {
      return null;
    }
  }

  function markSeen(names) {
    const s = seen() || new Set();
    for (const n of names) s.add(n);
    // Only names still among the recent operations matter.
    const keep = Array.from(s).slice(-200);
    try {
      localStorage.setItem(SEEN_KEY + state.org, JSON.stringify(keep));
    } catch (e) { /* storage full or off: the count is only a hint */ }
  }

  function updateBell() {
    if (!state.loaded) return; // no baseline before the first listing
    const done = state.recent.filter((op) => op.done).map((op) => op.name);
    let s = seen();
    if (s === null) {
      // First visit: what finished before is not news.
      markSeen(done);
      s = new Set(done);
    }
    if (state.panelOpen) markSeen(done);
    const fresh = state.panelOpen ? 0 : done.filter((n) => !s.has(n)).length;
    const badge = $('#bell-count');
    badge.textContent = String(fresh);
    badge.hidden = fresh === 0;
    $('#bell-label').textContent = fresh ? 'Notifications, ' + fresh + ' finished since you last looked' : 'Notifications';
  }

  function setPanel(open) {
    state.panelOpen = open;
    $('#panel').hidden = !open;
    $('#bell').setAttribute('aria-expanded', String(open));
    updateBell();
    if (open) poll();
  }

  // announce says when an operation this page watched has finished.
  function announce(ops) {
    for (const op of ops) {
      const was = state.known.get(op.name);
      if (was === false && op.done) {
        const out = outcome(op);
        const res = RESOURCES[resourceOf(op)] || 'Export';
        const resp = response(op);
        say(res + ' export ' + out.label.toLowerCase() + (resp ? ': ' + plural(resp.records, 'record') + ', ready to download from the bell' : '') + '.', out.key === 'FAILED');
      }
      state.known.set(op.name, !!op.done);
    }
  }

  // ---- polling --------------------------------------------------------------

  async function poll() {
    clearTimeout(state.timer);
    if (state.polling) {
      state.again = true; // after the request in flight
      return;
    }
    if (!state.org) {
      state.timer = setTimeout(poll, SLOW);
      return;
    }
    state.polling = true;
    let busy = false;
    try {
      const org = state.org;
      const data = await api(orgPath() + '/operations?pageSize=' + RECENT);
      if (org === state.org) {
        state.recent = data.operations || [];
        state.loaded = true;
        announce(state.recent);
        render();
        busy = state.recent.some((op) => !op.done);
        if (document.body.dataset.view === 'operations' && state.ops.items.some((op) => !op.done)) {
          await loadOps(state.ops.page, true);
        }
      }
    } catch (e) {
      if (e.httpStatus === 401) {
        signin(e.message);
        state.polling = false;
        return;
      }
      say('Cannot list operations: ' + e.message, true);
    }
    state.polling = false;
    if (state.again) {
      state.again = false;
      poll();
      return;
    }
    state.timer = setTimeout(poll, busy || state.panelOpen ? FAST : SLOW);
  }

  function render() {
    syncList($('#panel-list'), state.recent.slice(0, 10), false, 'No exports yet. Start one with an Export button.');
    for (const list of $$('.tabpanel .oplist')) {
      const r = list.dataset.resource;
      syncList(list, state.recent.filter((op) => resourceOf(op) === r).slice(0, 5), false,
        'No recent exports of ' + RESOURCES[r] + '.');
    }
    updateBell();
  }

  // ---- operations page -------------------------------------------------------

  function opsFilter() {
    const f = $('#filters');
    const terms = [];
    if (f.state.value) terms.push(f.state.value);
    if (f.resource.value) terms.push('metadata.target_resource_name="organizations/' + state.org + '/' + f.resource.value + '"');
    return terms.join(' AND ');
  }

  async function loadOps(page, quiet) {
    const o = state.ops;
    const q = new URLSearchParams({ pageSize: String(PAGE) });
    const filter = opsFilter();
    if (filter) q.set('filter', filter);
    if (o.tokens[page]) q.set('pageToken', o.tokens[page]);
    try {
      const data = await api(orgPath() + '/operations?' + q.toString());
      o.page = page;
      o.items = data.operations || [];
      o.next = data.nextPageToken || '';
      o.tokens[page + 1] = o.next;
      syncList($('#ops'), o.items, true, 'No operations match.');
      $('#ops-summary').textContent = quiet ? $('#ops-summary').textContent :
        'Page ' + (page + 1) + ': ' + plural(o.items.length, 'operation') + ', newest first.';
      $('#page-first').disabled = page === 0;
      $('#page-next').disabled = !o.next;
    } catch (e) {
      say('Cannot list operations: ' + e.message, true);
    }
  }

  function setupOpsPage() {
    const f = $('#filters');
    if (!f) return;
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      state.ops.tokens = [''];
      loadOps(0);
    });
    $('#page-first').addEventListener('click', () => loadOps(0));
    $('#page-next').addEventListener('click', () => loadOps(state.ops.page + 1));
  }

  // ---- export dialog -----------------------------------------------------------

  function uuid() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function openExport(resource, label) {
    if (!state.org) {
      say('Choose an organization first.', true);
      return;
    }
    state.resource = resource;
    state.requestId = uuid(); // one export per dialog, however often it is submitted
    $('#export-what').textContent = label;
    const err = $('#export-error');
    err.hidden = true;
    err.textContent = '';
    $('#export-dialog').showModal();
    $('#destination').focus();
  }

  function syncCompression() {
    const format = $('#format').value;
    const sel = $('#compression');
    for (const o of sel.options) {
      const ok = (o.dataset.formats || '').split(' ').includes(format);
      o.hidden = !ok;
      o.disabled = !ok;
    }
    if (sel.selectedOptions[0] && sel.selectedOptions[0].disabled) sel.value = '';
  }

  function destination() {
    let d = $('#destination').value.trim();
    if (d.startsWith('/')) d = 'file://' + d; // an absolute folder of the server
    return d;
  }

  async function submitExport(ev) {
    ev.preventDefault();
    if (state.submitting) return;
    const err = $('#export-error');
    const dest = destination();
    if (!dest) {
      err.textContent = 'Destination: required. Enter gs://BUCKET/PREFIX or file:///FOLDER.';
      err.hidden = false;
      $('#destination').focus();
      return;
    }
    const body = {
      destination: dest,
      format: $('#format').value,
      includeSecrets: $('#include-secrets').checked,
      requestId: state.requestId,
    };
    if ($('#compression').value) body.compression = $('#compression').value;
    if (state.session.apigeeUrl) body.apigeeUrl = state.session.apigeeUrl;
    state.submitting = true;
    $('#export-submit').disabled = true;
    $('#export-submit').textContent = 'Starting…';
    try {
      const op = await api(orgPath() + '/' + enc(state.resource) + ':export', { method: 'POST', body });
      $('#export-dialog').close();
      state.known.set(op.name, !!op.done);
      say('Started the ' + $('#export-what').textContent + ' export ' + idOf(op.name) + '. The bell shows its progress.');
      state.requestId = uuid();
      setPanel(true);
    } catch (e) {
      err.textContent = e.message + (e.code ? ' (' + e.code + ')' : '');
      err.hidden = false;
    } finally {
      state.submitting = false;
      $('#export-submit').disabled = false;
      $('#export-submit').textContent = 'Start export';
    }
  }

  function setupDialog() {
    const s = state.session;
    const dest = $('#destination');
    if (!dest.value) dest.value = s.defaultDestination || '';
    const allowed = s.allowedDestinations || [];
    $('#destination-list').replaceChildren(...allowed.filter((a) => !a.endsWith('://')).map((a) => el('option', { value: a })));
    $('#destination-allowed').textContent = allowed.length ?
      'This server writes under: ' + allowed.map((a) => a === 'gs://' ? 'gs:// (any bucket)' : a).join(', ') + '.' : '';
  }

  // ---- organizations, sign-in ------------------------------------------------------

  function setOrg(org) {
    state.org = org;
    state.recent = [];
    state.loaded = false;
    state.known = new Map();
    if (org) localStorage.setItem(ORG_KEY, org);
    for (const e of $$('.orgname')) e.textContent = org || 'no organization';
    render();
    if ($('#filters')) {
      state.ops.tokens = [''];
      loadOps(0);
    }
    poll();
  }

  function setupOrgs() {
    const s = state.session;
    const sel = $('#org');
    const other = $('#org-other');
    const opts = s.organizations.map((o) => el('option', { value: o }, o));
    if (s.anyOrganization) opts.push(el('option', { value: '\u0000other' }, 'Other…'));
    if (!opts.length) opts.push(el('option', { value: '' }, 'No organization granted'));
    sel.replaceChildren(...opts);
    sel.disabled = opts.length < 2 && !s.anyOrganization;
    const saved = localStorage.getItem(ORG_KEY) || '';
    let org = s.organizations.includes(saved) ? saved : (s.organizations[0] || '');
    if (!org && s.anyOrganization) {
      // Nothing to pick from: type the name (the last one used, if any).
      org = saved;
      sel.value = '\u0000other';
      other.hidden = false;
      other.value = saved;
    } else {
      sel.value = org;
    }
    sel.addEventListener('change', () => {
      if (sel.value === '\u0000other') {
        other.hidden = false;
        other.focus();
        return;
      }
      other.hidden = true;
      setOrg(sel.value);
    });
    other.addEventListener('change', () => {
      const v = other.value.trim();
      if (/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(v)) setOrg(v);
      else say('Organization: "' + v + '" is not an organization name (letters, digits and dashes).', true);
    });
    if (!org && !s.anyOrganization) {
      say('Your credentials grant no organization: there is nothing to show.', true);
    }
    setOrg(org);
  }

  function signin(message) {
    clearTimeout(state.timer);
    const d = $('#signin-dialog');
    const err = $('#signin-error');
    err.textContent = message && state.token ? 'Sign-in failed: ' + message : '';
    err.hidden = !err.textContent;
    if (!d.open) d.showModal();
    $('#token').focus();
  }

  function setupSignin() {
    $('#signin-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('#token').value.trim();
      if (!t) return;
      state.token = t;
      sessionStorage.setItem(TOKEN_KEY, t);
      $('#token').value = '';
      start();
    });
    // The console is useless without credentials: Escape does not dismiss.
    $('#signin-dialog').addEventListener('cancel', (ev) => ev.preventDefault());
    $('#signout').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      location.reload();
    });
  }

  // ---- status line -----------------------------------------------------------------

  let sayTimer = 0;
  function say(message, isError) {
    const s = $('#status');
    s.textContent = message;
    s.classList.toggle('error', !!isError);
    s.classList.add('shown');
    clearTimeout(sayTimer);
    sayTimer = setTimeout(() => s.classList.remove('shown'), isError ? 12000 : 6000);
  }

  // ---- tabs --------------------------------------------------------------------------

  function setupTabs() {
    const tabs = $$('[role=tab]');
    const select = (tab, focus) => {
      for (const t of tabs) {
        const on = t === tab;
        t.setAttribute('aria-selected', String(on));
        t.tabIndex = on ? 0 : -1;
        $('#' + t.getAttribute('aria-controls')).hidden = !on;
      }
      if (focus) tab.focus();
    };
    tabs.forEach((tab, i) => {
      tab.addEventListener('click', () => select(tab, false));
      tab.addEventListener('keydown', (ev) => {
        let j = -1;
        if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
        else if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
        else if (ev.key === 'Home') j = 0;
        else if (ev.key === 'End') j = tabs.length - 1;
        if (j >= 0) {
          ev.preventDefault();
          select(tabs[j], true);
        }
      });
    });
    for (const b of $$('button.export')) {
      b.addEventListener('click', () => openExport(b.dataset.resource, b.dataset.label));
    }
  }

  // ---- start ---------------------------------------------------------------------------

  async function start() {
    try {
      state.session = await api('/v1/console/session');
    } catch (e) {
      if (e.httpStatus === 401 || e.httpStatus === 403) {
        signin(e.message);
        return;
      }
      say('The console cannot start: ' + e.message, true);
      return;
    }
    const d = $('#signin-dialog');
    if (d.open) d.close();
    $('#who').textContent = 'Signed in as ' + state.session.subject;
    $('#signout').hidden = !state.token;
    setupDialog();
    setupOrgs();
  }

  function init() {
    setupTabs();
    setupSignin();
    setupOpsPage();
    $('#export-form').addEventListener('submit', submitExport);
    $('#export-cancel').addEventListener('click', () => $('#export-dialog').close());
    $('#format').addEventListener('change', syncCompression);
    syncCompression();
    $('#include-secrets').addEventListener('change', (ev) => {
      $('#secrets-warning').classList.toggle('danger', ev.target.checked);
    });
    $('#bell').addEventListener('click', () => setPanel(!state.panelOpen));
    $('#panel-close').addEventListener('click', () => {
      setPanel(false);
      $('#bell').focus();
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && state.panelOpen && !$('dialog[open]')) {
        setPanel(false);
        $('#bell').focus();
      }
    });
    start();
  }

  init();
})();
