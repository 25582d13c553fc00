// The event explorer. It reads the ledger's public HTTP API (the same
// routes a client calls, on this origin) and the local stack's
// GET /local/status and GET /local/journey/{correlationId}, and writes
// nothing. The state worth a link lives in
// the URL's fragment: #owner=…&account=…&version=…&transfer=….
'use strict';

(() => {
  const STATUS_EVERY_MS = 1500;
  const TRANSFER_POLL_MS = 1000;
  const TRAVEL_DEBOUNCE_MS = 80;
  const MAX_EVENTS = 5000; // per account: 50 pages of the events route
  const MAX_HISTORY = 1000;
  const RECENT_OWNERS = 8;
  const OWNERS_KEY = 'annals.explorer.owners';

  const $ = (sel) => document.querySelector(sel);
  const SVG = 'http://www.w3.org/2000/svg';

  // el builds an element; children are nodes or text (never parsed as HTML).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.setAttribute('class', v);
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // ---- formatting ----

  let minorUnits = {};

  // money formats an integer count of minor units exactly (no floats):
  // 1234567 EUR is "12,345.67".
  function money(minor, currency) {
    if (typeof minor !== 'number') return '—';
    const digits = minorUnits[currency] ?? 2;
    const neg = minor < 0;
    let s = String(Math.abs(minor)).padStart(digits + 1, '0');
    let whole = digits ? s.slice(0, -digits) : s;
    const frac = digits ? s.slice(-digits) : '';
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return (neg ? '−' : '') + whole + (frac ? '.' + frac : '');
  }

  function signed(minor, currency) {
    return (minor > 0 ? '+' : '') + money(minor, currency);
  }

  // when shows an RFC 3339 time in UTC to the millisecond.
  function when(ts) {
    if (!ts) return '—';
    const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(ts);
    if (!m) return ts;
    const ms = ((m[3] || '.') + '000').slice(0, 4);
    return `${m[1]} ${m[2]}${ms}${m[4] === 'Z' ? '' : ' ' + m[4]}`;
  }

  function short(id) {
    return id && id.length > 13 ? id.slice(0, 8) + '…' + id.slice(-4) : (id || '—');
  }

  // idCode shows a full id, clipped by CSS; its title holds it whole.
  function idCode(id, cls) {
    return el('code', { class: 'id ' + (cls || ''), title: id || '' }, id || '—');
  }

  // ---- the API ----

  class ApiError extends Error {
    constructor(status, problem, path) {
      const what = problem && (problem.detail || problem.title || problem.message);
      super(`${status} on ${path}${what ? ': ' + what : ''}`);
      this.status = status;
      this.problem = problem;
    }
  }

  async function get(path) {
    const resp = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
    let body = null;
    const text = await resp.text();
    if (text) {
      try { body = JSON.parse(text); } catch { body = { message: text.slice(0, 200) }; }
    }
    if (!resp.ok) throw new ApiError(resp.status, body, path);
    return { body, headers: resp.headers };
  }

  // all follows a list route's cursors until the last page, or max items.
  async function all(path, max) {
    const items = [];
    let cursor = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page = await get(`${path}${sep}limit=100${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
      items.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor && items.length < max);
    return { items, more: Boolean(cursor) };
  }

  const enc = encodeURIComponent;

  // ---- messages and the URL ----

  function say(text) {
    const m = $('#message');
    m.textContent = text || '';
    m.hidden = !text;
  }

  const state = { owner: '', account: null, transfer: null, version: null };

  function saveHash() {
    const p = new URLSearchParams();
    if (state.owner) p.set('owner', state.owner);
    if (state.account) p.set('account', state.account.id);
    if (state.version) p.set('version', state.version);
    if (state.transfer) p.set('transfer', state.transfer);
    history.replaceState(null, '', '#' + p.toString());
  }

  // ---- owners and their accounts ----

  function recentOwners() {
    try {
      const v = JSON.parse(localStorage.getItem(OWNERS_KEY) || '[]');
      return Array.isArray(v) ? v.filter((o) => typeof o === 'string') : [];
    } catch { return []; }
  }

  function remember(owner) {
    const list = [owner, ...recentOwners().filter((o) => o !== owner)].slice(0, RECENT_OWNERS);
    try { localStorage.setItem(OWNERS_KEY, JSON.stringify(list)); } catch { /* private mode */ }
    renderRecent();
  }

  function renderRecent() {
    const box = $('#recent-owners');
    box.replaceChildren(...recentOwners().map((o) =>
      el('button', { type: 'button', class: 'chip', dataset: { owner: o }, onclick: () => showOwner(o) }, o)));
  }

  let accountsCursor = null;

  async function showOwner(owner, more) {
    owner = owner.trim();
    if (!owner) return;
    const table = $('#accounts');
    const body = table.querySelector('tbody');
    if (!more) {
      state.owner = owner;
      $('#owner-input').value = owner;
      body.replaceChildren();
      accountsCursor = null;
      saveHash();
    }
    const note = $('#accounts-note');
    note.textContent = `Loading ${owner}'s accounts…`;
    try {
      const q = `/accounts?owner=${enc(owner)}&limit=20${more && accountsCursor ? '&cursor=' + enc(accountsCursor) : ''}`;
      const { body: page } = await get(q);
      if (state.owner !== owner) return;
      remember(owner);
      for (const a of page.items) {
        body.append(el('tr', { dataset: { account: a.accountId }, class: state.account?.id === a.accountId ? 'selected' : '' },
          el('td', {}, el('button', { type: 'button', class: 'link', title: a.accountId, onclick: () => openAccount(a.accountId) }, short(a.accountId)),
            ' ', el('span', { class: 'cur' }, a.currency)),
          el('td', { class: 'num balance' }, money(a.balance, a.currency)),
          el('td', {}, el('span', { class: 'badge s-' + a.status }, a.status)),
          el('td', { class: 'num' }, a.version)));
      }
      accountsCursor = page.nextCursor;
      $('#accounts-more').hidden = !accountsCursor;
      table.hidden = body.children.length === 0;
      note.textContent = body.children.length === 0
        ? `${owner} has no accounts (or the view has not seen them yet).`
        : `${owner}'s accounts, from the accounts view:`;
    } catch (err) {
      note.textContent = `Could not list ${owner}'s accounts: ${err.message}`;
    }
  }

  // ---- an account ----

  // balances folds the events into the balance after each version:
  // a movement's balanceAfter where it has one, else the running sum.
  function balances(events) {
    let b = 0;
    return events.map((e) => {
      const d = e.data || {};
      if (e.type === 'AccountOpened') b = 0;
      else if (e.type === 'MoneyDeposited') b = typeof d.balanceAfter === 'number' ? d.balanceAfter : b + (d.amount || 0);
      else if (e.type === 'MoneyWithdrawn') b = typeof d.balanceAfter === 'number' ? d.balanceAfter : b - (d.amount || 0);
      return { version: e.version, type: e.type, balance: b, recordedAt: e.recordedAt, event: e };
    });
  }

  let openSeq = 0;

  async function openAccount(id, version) {
    id = id.trim();
    if (!id) return;
    const seq = ++openSeq;
    say('');
    try {
      const [view, events, history] = await Promise.all([
        get(`/accounts/${enc(id)}?minVersion=1`),
        all(`/accounts/${enc(id)}/events`, MAX_EVENTS),
        all(`/accounts/${enc(id)}/transactions`, MAX_HISTORY),
      ]);
      if (seq !== openSeq) return;
      const a = view.body;
      state.account = { id, view: a, source: view.headers.get('Annals-Read-Source'), events: events.items,
        moreEvents: events.more, history: history.items, series: balances(events.items) };
      for (const tr of document.querySelectorAll('#accounts tbody tr')) {
        tr.classList.toggle('selected', tr.dataset.account === id);
      }
      $('#welcome').hidden = true;
      $('#account').hidden = false;
      $('#account-id').textContent = id;
      renderSummary();
      renderTransfers();
      renderTimeline();
      renderTransactions();
      const head = events.items.length ? events.items[events.items.length - 1].version : a.version;
      const slider = $('#travel');
      slider.max = String(head);
      $('#travel-max').textContent = head;
      const v = version && version >= 1 && version <= head ? version : head;
      slider.value = String(v);
      await travel(v);
    } catch (err) {
      if (seq === openSeq) say(`Could not open account ${id}: ${err.message}`);
    }
  }

  function renderSummary() {
    const { view: a, source, events } = state.account;
    const dl = $('#account-summary');
    const item = (k, ...v) => [el('dt', {}, k), el('dd', {}, ...v)];
    dl.dataset.balance = a.balance;
    dl.dataset.version = a.version;
    dl.replaceChildren(
      ...item('owner', el('button', { type: 'button', class: 'link', onclick: () => showOwner(a.owner) }, a.owner)),
      ...item('balance', el('strong', { class: 'balance' }, money(a.balance, a.currency)), ' ', a.currency),
      ...item('status', el('span', { class: 'badge s-' + a.status }, a.status)),
      ...item('version', String(a.version)),
      ...item('updated', when(a.updatedAt)),
      ...item('read from', source === 'view' ? 'the accounts view' : 'the events table', ' ', el('code', { class: 'hdr' }, `Annals-Read-Source: ${source}`)),
      ...item('events', `${events.length}${state.account.moreEvents ? '+ (the first ' + MAX_EVENTS + ' shown)' : ''}`));
  }

  // The transfers the account took part in, from its history (the
  // movements that carry a transferId), newest first.
  function renderTransfers() {
    const { history, view } = state.account;
    const byId = new Map();
    for (const h of history) {
      if (!h.transferId) continue;
      if (!byId.has(h.transferId)) byId.set(h.transferId, []);
      byId.get(h.transferId).push(h);
    }
    const ul = $('#account-transfers');
    if (byId.size === 0) {
      ul.replaceChildren(el('li', { class: 'note' }, 'none in its history'));
      return;
    }
    ul.replaceChildren(...[...byId].map(([tid, moves]) => {
      const status = el('span', { class: 'badge' }, '…');
      get(`/transfers/${enc(tid)}`).then(({ body: t }) => {
        status.textContent = t.status;
        status.className = 'badge s-' + t.status;
      }).catch(() => { status.textContent = '?'; });
      const what = moves.slice().reverse().map((m) => `${m.kind} ${signed(m.kind === 'withdrawal' ? -m.amount : m.amount, view.currency)}`).join(', ');
      return el('li', { dataset: { transfer: tid } },
        el('button', { type: 'button', class: 'link', title: tid, onclick: () => openTransfer(tid) }, short(tid)),
        ' ', status, ' ', el('span', { class: 'note' }, what));
    }));
  }

  const TYPE_CLASS = {
    AccountOpened: 't-open', MoneyDeposited: 't-in', MoneyWithdrawn: 't-out',
    TransferOutBegun: 't-transfer', TransferOutEnded: 't-transfer', AccountClosed: 't-close',
  };

  function describe(e, currency) {
    const d = e.data || {};
    switch (e.type) {
      case 'AccountOpened':
        return `${d.owner} opened a ${d.currency} account, overdraft limit ${money(d.overdraftLimit || 0, d.currency)}`;
      case 'MoneyDeposited':
      case 'MoneyWithdrawn': {
        const amount = e.type === 'MoneyDeposited' ? d.amount : -d.amount;
        return `${signed(amount, currency)}${d.reference ? ' · ' + d.reference : ''}` +
          (typeof d.balanceAfter === 'number' ? ` · balance ${money(d.balanceAfter, currency)}` : '');
      }
      case 'TransferOutBegun':
        return `${money(d.amount, currency)} held for a transfer out`;
      case 'TransferOutEnded':
        return 'the transfer out ended';
      case 'AccountClosed':
        return 'closed';
      default:
        return JSON.stringify(d);
    }
  }

  function renderTimeline() {
    const { events, view } = state.account;
    $('#timeline-count').textContent = `(${events.length} events, from the events table)`;
    const meta = (k, v, cls) => [el('dt', {}, k), el('dd', { class: cls }, v)];
    $('#timeline').replaceChildren(...events.map((e) => {
      const tid = e.data && e.data.transferId;
      return el('li', { dataset: { version: e.version, type: e.type }, class: TYPE_CLASS[e.type] || '' },
        el('div', { class: 'ev-head' },
          el('span', { class: 'v' }, 'v' + e.version),
          el('span', { class: 'type' }, e.type),
          el('span', { class: 'what' }, describe(e, view.currency)),
          tid ? el('button', { type: 'button', class: 'link transfer-link', title: tid, onclick: () => openTransfer(tid) }, 'transfer ' + short(tid)) : null,
          e.correlationId ? el('button', { type: 'button', class: 'link journey-link', title: `the path of command ${e.correlationId} through the functions`,
            onclick: () => openJourney(e.correlationId) }, 'journey') : null,
          el('span', { class: 'when', title: e.recordedAt }, when(e.recordedAt))),
        el('dl', { class: 'meta' },
          ...meta('actor', e.actor || '—', 'm-actor'),
          ...meta('recorded', el('span', { title: e.recordedAt }, when(e.recordedAt)), 'm-recorded'),
          ...meta('occurred', el('span', { title: e.occurredAt }, when(e.occurredAt)), 'm-occurred'),
          ...meta('command', idCode(e.commandId), 'm-command'),
          ...meta('correlation', idCode(e.correlationId), 'm-correlation'),
          ...meta('causation', idCode(e.causationId), 'm-causation'),
          ...meta('schema', 'v' + e.schemaVersion, 'm-schema'),
          ...meta('event', idCode(e.eventId), 'm-event')));
    }));
  }

  function renderTransactions() {
    const { history, view } = state.account;
    const body = $('#transactions tbody');
    if (history.length === 0) {
      body.replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'note' }, 'no deposits or withdrawals yet')));
      return;
    }
    body.replaceChildren(...history.map((h) => el('tr', { dataset: { version: h.version } },
      el('td', { class: 'num' }, h.version),
      el('td', {}, h.kind),
      el('td', { class: 'num' }, signed(h.kind === 'withdrawal' ? -h.amount : h.amount, view.currency)),
      el('td', { class: 'num' }, money(h.balanceAfter, view.currency)),
      el('td', {}, h.reference || ''),
      el('td', {}, h.transferId ? el('button', { type: 'button', class: 'link', title: h.transferId, onclick: () => openTransfer(h.transferId) }, short(h.transferId)) : ''),
      el('td', { title: h.recordedAt }, when(h.recordedAt)))));
  }

  // ---- the chart ----

  function renderChart(at) {
    const { series, view } = state.account;
    const chart = $('#chart');
    const W = 640, H = 220, L = 78, R = 14, T = 14, B = 40;
    if (series.length === 0) {
      chart.replaceChildren(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, 'no events'));
      return;
    }
    const v0 = series[0].version, v1 = series[series.length - 1].version;
    let lo = Math.min(0, ...series.map((p) => p.balance));
    let hi = Math.max(0, ...series.map((p) => p.balance));
    if (hi === lo) hi = lo + 1;
    const x = (v) => L + (v1 === v0 ? (W - L - R) / 2 : (v - v0) / (v1 - v0) * (W - L - R));
    const y = (b) => T + (hi - b) / (hi - lo) * (H - T - B);
    const parts = [];
    // Horizontal guides: zero, the lowest and the highest balance.
    for (const b of [...new Set([lo, 0, hi])]) {
      parts.push(svg('line', { x1: L, x2: W - R, y1: y(b), y2: y(b), class: b === 0 ? 'zero' : 'grid' }));
      parts.push(svg('text', { x: L - 6, y: y(b) + 4, 'text-anchor': 'end', class: 'axis' }, money(b, view.currency)));
    }
    // The balance holds from one version to the next: a step line.
    let d = `M${x(series[0].version)},${y(series[0].balance)}`;
    for (const p of series.slice(1)) d += `H${x(p.version)}V${y(p.balance)}`;
    const area = `${d}V${y(0)}H${x(series[0].version)}Z`;
    parts.push(svg('path', { d: area, class: 'area' }));
    parts.push(svg('path', { d, class: 'line' }));
    for (const p of series) {
      const moved = p.type === 'MoneyDeposited' || p.type === 'MoneyWithdrawn' || p.type === 'AccountOpened';
      if (!moved) continue;
      parts.push(svg('circle', { cx: x(p.version), cy: y(p.balance), r: 3.5, class: 'pt' },
        svg('title', {}, `v${p.version} ${p.type}: ${money(p.balance, view.currency)}`)));
    }
    // Version ticks: every version when few, else about ten.
    const step = Math.max(1, Math.ceil((v1 - v0 + 1) / 10));
    for (let v = v0; v <= v1; v += step) {
      parts.push(svg('text', { x: x(v), y: H - B + 16, 'text-anchor': 'middle', class: 'axis' }, v));
    }
    parts.push(svg('text', { x: L, y: H - 4, class: 'axis' }, when(series[0].recordedAt)));
    parts.push(svg('text', { x: W - R, y: H - 4, 'text-anchor': 'end', class: 'axis' }, when(series[series.length - 1].recordedAt)));
    const cur = series.find((p) => p.version === at) || series.filter((p) => p.version <= at).pop();
    if (cur) {
      parts.push(svg('line', { x1: x(at), x2: x(at), y1: T, y2: H - B, class: 'marker' }));
      parts.push(svg('circle', { cx: x(at), cy: y(cur.balance), r: 6, class: 'marker-pt' }));
      const right = x(at) > W / 2;
      parts.push(svg('text', { x: x(at) + (right ? -8 : 8), y: T + 10, 'text-anchor': right ? 'end' : 'start', class: 'marker-label' },
        `v${at}: ${money(cur.balance, view.currency)}`));
    }
    chart.dataset.points = series.length;
    chart.replaceChildren(...parts);
  }

  // ---- time travel ----

  let travelSeq = 0;
  let travelTimer = null;

  function onTravel() {
    const v = Number($('#travel').value);
    markVersion(v);
    clearTimeout(travelTimer);
    travelTimer = setTimeout(() => travel(v), TRAVEL_DEBOUNCE_MS);
  }

  // markVersion shows what is at or before v on the chart and timeline at
  // once, before the store answers.
  function markVersion(v) {
    renderChart(v);
    for (const li of document.querySelectorAll('#timeline > li')) {
      const lv = Number(li.dataset.version);
      li.classList.toggle('future', lv > v);
      li.classList.toggle('current', lv === v);
    }
    $('#travel-state').classList.add('loading');
  }

  // travel reads the account as it was right after version v: rebuilt
  // from the events table (?version=N), never the view.
  async function travel(v) {
    if (!state.account) return;
    const id = state.account.id;
    const seq = ++travelSeq;
    markVersion(v);
    state.version = v;
    saveHash();
    const dl = $('#travel-state');
    try {
      const { body: a, headers } = await get(`/accounts/${enc(id)}?version=${v}`);
      if (seq !== travelSeq || state.account?.id !== id) return;
      const source = headers.get('Annals-Read-Source');
      const ev = state.account.events.find((e) => e.version === v);
      const item = (k, ...x) => [el('dt', {}, k), el('dd', {}, ...x)];
      dl.dataset.version = a.version;
      dl.dataset.balance = a.balance;
      dl.dataset.source = source || '';
      dl.replaceChildren(
        ...item('version', el('strong', { class: 'tv-version' }, `${a.version}`), ` of ${$('#travel').max}`),
        ...item('balance', el('strong', { class: 'balance tv-balance' }, money(a.balance, a.currency)), ' ', a.currency),
        ...item('status', el('span', { class: 'badge s-' + a.status }, a.status)),
        ...item('event', ev ? ev.type : '—'),
        ...item('recorded', when(a.updatedAt)),
        ...item('read from', el('span', { class: source === 'events' ? 'ok tv-source' : 'warn tv-source' },
          source === 'events' ? 'the events table' : `not the store (${source || 'no header'})`),
        ' ', el('code', { class: 'hdr' }, `Annals-Read-Source: ${source}`)));
      dl.classList.remove('loading');
    } catch (err) {
      if (seq !== travelSeq) return;
      dl.classList.remove('loading');
      dl.replaceChildren(el('dt', {}, 'error'), el('dd', {}, err.message));
    }
  }

  // ---- a transfer ----

  let transferSeq = 0;
  let transferTimer = null;

  // stepName is what a process manager step's command id says after the
  // transfer's id (<transferId>/<step>), else the whole command id.
  function stepName(commandId, tid) {
    return commandId && commandId.startsWith(tid + '/') ? commandId.slice(tid.length + 1) : (commandId || '—');
  }

  // ---- a command's journey, from the functions' log ----

  let journeySeq = 0;

  async function openJourney(corr) {
    const seq = ++journeySeq;
    const sec = $('#journey');
    sec.hidden = false;
    sec.dataset.state = 'loading';
    sec.dataset.correlation = corr;
    $('#journey-id').textContent = corr;
    $('#journey-summary').textContent = "reading the functions' log…";
    $('#journey-steps tbody').replaceChildren();
    sec.scrollIntoView({ block: 'start' });
    try {
      const { body } = await get(`/local/journey/${enc(corr)}`);
      if (seq !== journeySeq) return;
      renderJourney(body);
    } catch (err) {
      if (seq !== journeySeq) return;
      sec.dataset.state = 'error';
      $('#journey-summary').textContent = `No journey: ${err.message}`;
    }
  }

  // offset writes milliseconds since the request: +12.5 ms, +1.234 s.
  function offset(ms) {
    return ms < 1000 ? `+${ms.toFixed(1)} ms` : `+${(ms / 1000).toFixed(3)} s`;
  }

  function renderJourney(j) {
    const sec = $('#journey');
    $('#journey-summary').textContent = `${j.steps.length} steps over ${offset(j.tookMs).slice(1)}, from ${when(j.start)}` +
      (j.traces.length ? `; X-Ray traces ${j.traces.join(', ')}` : '') + ` (${j.read})`;
    $('#journey-steps tbody').replaceChildren(...j.steps.map((s) => {
      const versions = s.lastVersion > s.version ? `${s.version}..${s.lastVersion}` : `${s.version}`;
      return el('tr', { dataset: { step: s.step }, class: 'j-' + s.step.split(' ')[0] },
        el('td', { class: 'num', title: s.at }, offset(s.sinceMs)),
        el('td', { class: 'j-step' }, s.step),
        el('td', {}, s.function || '—'),
        el('td', {}, s.stream ? idCode(`${s.stream}@${versions}`) : '—'),
        el('td', { class: 'num' }, s.durationMs === null ? '—' : `${s.durationMs.toFixed(1)} ms`),
        el('td', { class: 'j-what' }, s.what));
    }));
    sec.dataset.state = 'shown';
  }

  async function openTransfer(tid, polled) {
    tid = tid.trim();
    const seq = ++transferSeq;
    clearTimeout(transferTimer);
    if (!polled) say('');
    try {
      const { body: t, headers } = await get(`/transfers/${enc(tid)}`);
      // Both accounts' events, and of them those that carry the transfer.
      const [from, to] = await Promise.all([t.fromAccountId, t.toAccountId].map((id) =>
        all(`/accounts/${enc(id)}/events`, MAX_EVENTS).catch(() => ({ items: [] }))));
      if (seq !== transferSeq) return;
      state.transfer = tid;
      saveHash();
      const mine = [
        ...from.items.filter((e) => e.data && e.data.transferId === tid).map((e) => ({ ...e, role: 'source', account: t.fromAccountId })),
        ...to.items.filter((e) => e.data && e.data.transferId === tid).map((e) => ({ ...e, role: 'destination', account: t.toAccountId })),
      ];
      renderTransfer(t, headers.get('Annals-Read-Source'), mine);
      if (t.status === 'pending') {
        transferTimer = setTimeout(() => openTransfer(tid, true), TRANSFER_POLL_MS);
      }
    } catch (err) {
      if (seq === transferSeq) say(`Could not read transfer ${tid}: ${err.message}`);
    }
  }

  function renderTransfer(t, source, events) {
    const sec = $('#transfer');
    sec.hidden = false;
    $('#welcome').hidden = true;
    $('#transfer-id').textContent = t.transferId;
    const item = (k, ...v) => [el('dt', {}, k), el('dd', {}, ...v)];
    const acct = (id) => el('button', { type: 'button', class: 'link', title: id, onclick: () => openAccount(id) }, short(id));
    const dl = $('#transfer-summary');
    dl.dataset.status = t.status;
    dl.replaceChildren(
      ...item('status', el('span', { class: 'badge big s-' + t.status }, t.status),
        t.reason ? ` ${t.reason}` : '', t.refunded ? ' (refunded)' : ''),
      ...item('amount', el('strong', {}, money(t.amount, t.currency)), ' ', t.currency),
      ...item('from → to', acct(t.fromAccountId), ' → ', acct(t.toAccountId)),
      ...item('reference', t.reference || '—'),
      ...item('version', String(t.version)),
      ...item('updated', when(t.updatedAt)),
      ...item('read from', source === 'view' ? 'the transfers view' : 'the events table', ' ', el('code', { class: 'hdr' }, `Annals-Read-Source: ${source}`)));

    // One step per command: the events one commit (over both accounts and
    // the transfer) left. Steps in the order they were recorded; in a step,
    // the source's events, then the destination's, each in version order.
    const steps = new Map();
    for (const e of events.sort((a, b) => (a.recordedAt < b.recordedAt ? -1 : a.recordedAt > b.recordedAt ? 1 : 0))) {
      const name = stepName(e.commandId, t.transferId);
      if (!steps.has(name)) steps.set(name, { name, commandId: e.commandId, recordedAt: e.recordedAt, events: [] });
      steps.get(name).events.push(e);
    }
    const role = { source: 0, destination: 1 };
    for (const s of steps.values()) s.events.sort((a, b) => role[a.role] - role[b.role] || a.version - b.version);
    const ol = $('#transfer-steps');
    if (steps.size === 0) {
      ol.replaceChildren(el('li', { class: 'note' }, t.status === 'pending'
        ? 'requested: no account has moved yet'
        : 'no event on either account carries this transfer'));
      return;
    }
    ol.replaceChildren(...[...steps.values()].map((s) => el('li', { dataset: { step: s.name } },
      el('div', { class: 'step-head' },
        el('strong', {}, s.name), ' ',
        el('span', { class: 'note' }, 'command '), idCode(s.commandId), ' ',
        el('span', { class: 'when', title: s.recordedAt }, when(s.recordedAt))),
      el('ul', { class: 'plain' }, ...s.events.map((e) => el('li', { dataset: { role: e.role, type: e.type, version: e.version } },
        el('span', { class: 'role' }, e.role), ' ',
        el('button', { type: 'button', class: 'link', title: e.account, onclick: () => openAccount(e.account) }, short(e.account)), ' ',
        el('span', { class: 'v' }, 'v' + e.version), ' ',
        el('span', { class: 'type' }, e.type), ' ',
        el('span', { class: 'note' }, describe(e, t.currency))))))));
  }

  // ---- the pipeline ----

  async function pollStatus() {
    const live = $('#pipeline-live');
    try {
      const { body: s } = await get('/local/status');
      renderStatus(s);
      live.textContent = 'live · ' + when(s.at).slice(11);
      live.className = 'live on';
    } catch (err) {
      live.textContent = 'status unavailable: ' + err.message;
      live.className = 'live off';
    }
    setTimeout(pollStatus, STATUS_EVERY_MS);
  }

  function renderStatus(s) {
    const num = (n, bad) => el('td', { class: 'num' + (bad && n > 0 ? ' bad' : '') }, n === null || n === undefined ? '—' : n);
    $('#consumers tbody').replaceChildren(...s.consumers.map((c) => el('tr', { dataset: { function: c.function } },
      el('td', {}, el('strong', {}, c.function.replace(/Function$/, '')), el('br'),
        el('span', { class: 'note' }, `${c.event} · ${c.kind}`)),
      num(c.delivered),
      num(c.behind, true),
      el('td', { class: 'num' }, c.kind === 'kinesis' ? c.millisBehind : '—'),
      num(c.retries, true),
      num(c.failed, true),
      num(c.deadLetters, true))));
    const q = $('#quarantined');
    q.replaceChildren(...(s.quarantined.length ? s.quarantined.map((x) => el('li', { class: 'bad', dataset: { view: x.view, stream: x.stream } },
      el('strong', {}, x.view), ' ', el('code', {}, x.stream), ` stopped at v${x.at} after v${x.version}: ${x.reason}`))
      : [el('li', { class: 'note' }, 'none')]));
    $('#pipeline-errors').replaceChildren(...s.errors.map((e) => el('li', {}, e)));
  }

  // ---- start ----

  async function start() {
    try {
      minorUnits = (await get('currencies.json')).body;
    } catch { /* two decimals for every currency */ }
    $('#owner-form').addEventListener('submit', (ev) => { ev.preventDefault(); showOwner($('#owner-input').value); });
    $('#account-form').addEventListener('submit', (ev) => { ev.preventDefault(); openAccount($('#account-input').value); });
    $('#transfer-form').addEventListener('submit', (ev) => { ev.preventDefault(); openTransfer($('#transfer-input').value); });
    $('#journey-close').addEventListener('click', () => { journeySeq++; $('#journey').hidden = true; });
    $('#accounts-more').addEventListener('click', () => showOwner(state.owner, true));
    $('#travel').addEventListener('input', onTravel);
    renderRecent();
    pollStatus();
    const p = new URLSearchParams(location.hash.slice(1));
    if (p.get('owner')) showOwner(p.get('owner'));
    if (p.get('account')) openAccount(p.get('account'), Number(p.get('version')) || null);
    if (p.get('transfer')) openTransfer(p.get('transfer'));
    document.body.dataset.ready = 'true';
  }

  start();
})();
