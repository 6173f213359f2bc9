// SPDX-License-Identifier: Apache-2.0
// app.js - the gatefleet dashboard: hash routing (#/login, #/tenants, #/tenants/{id}/{tab},
// #/projects/{id}, #/tokens, #/users) over the REST API of api.js. Every form shows the
// server's problem+json errors next to itself; 401 anywhere returns to the sign-in view.
import * as api from './js/api.js';
import { el, showError, notice, table, formValues, when } from './js/ui.js';

const view = document.getElementById('view');
let me = null;

api.whenUnauthorized(() => { me = null; go('#/login'); });

function go(hash) { if (location.hash !== hash) location.hash = hash; else route(); }

// A list with cursor pagination: renders rows with columns and a "More" button.
function pagedList(path, columns, empty) {
  const box = el('div');
  const err = el('div');
  const rows = [];
  const more = el('button', { class: 'secondary', type: 'button' }, 'More');
  let cursor = null;
  async function load() {
    try {
      const data = await api.page(path, cursor);
      rows.push(...data.items);
      cursor = data.next_cursor;
      box.replaceChildren(rows.length ? table(columns, rows) : el('p', { class: 'muted' }, empty));
      more.hidden = !cursor;
    } catch (e) { showError(err, e); }
  }
  more.addEventListener('click', load);
  load();
  return el('div', {}, err, box, more);
}

function form(fields, submitText, onSubmit) {
  const err = el('div');
  const f = el('form', { class: 'inline' }, fields, el('button', { type: 'submit' }, submitText));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { await onSubmit(formValues(f), err, f); } catch (e) { showError(err, e); }
  });
  return el('div', {}, f, err);
}

const input = (name, label, attrs = {}) => el('label', {}, label, el('input', { name, ...attrs }));
const roleSelect = (name = 'role') => el('label', {}, 'Role',
  el('select', { name }, ['viewer', 'operator', 'admin', 'owner'].map((r) => el('option', { value: r }, r))));

// ------------------------------------------------------------------ views
function loginView() {
  document.getElementById('top').hidden = true;
  const err = el('div');
  const f = el('form', {},
    input('email', 'E-mail', { type: 'email', required: true, autocomplete: 'username' }),
    input('password', 'Password', { type: 'password', required: true, autocomplete: 'current-password' }),
    el('button', { type: 'submit' }, 'Sign in'), err);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api.post('/auth/login', formValues(f));
      api.setCsrf(r.csrf_token);
      me = r;
      go('#/tenants');
    } catch (e) { showError(err, e); }
  });
  return el('section', { class: 'card login' }, el('h1', {}, 'Sign in to gatefleet'), f);
}

function tenantsView() {
  const parts = [el('h1', {}, 'Tenants'), pagedList('/tenants', [
    { title: 'Name', cell: (t) => el('a', { href: `#/tenants/${t.id}/projects` }, t.name) },
    { title: 'Slug', cell: (t) => t.slug },
    { title: 'Created', cell: (t) => when(t.created_at) },
  ], 'No tenants yet.')];
  if (me.user.is_admin) {
    parts.push(el('h2', {}, 'New tenant'), form([input('name', 'Name', { required: true }),
      input('slug', 'Slug', { required: true, pattern: '[a-z0-9\\-]+' })], 'Create', async (v) => {
      const t = await api.post('/tenants', v);
      go(`#/tenants/${t.id}/projects`);
    }));
  }
  return el('div', {}, parts);
}

async function tenantView(id, tab) {
  const t = await api.get(`/tenants/${id}`);
  const tabs = el('div', { class: 'tabs' }, ['projects', 'members', 'audit'].map((k) =>
    el('a', { href: `#/tenants/${id}/${k}`, class: k === tab ? 'active' : '' }, k)));
  let body;
  if (tab === 'members') body = membersTab(id);
  else if (tab === 'audit') body = auditTab(id);
  else body = projectsTab(id);
  return el('div', {}, el('h1', {}, t.name, ' ', el('span', { class: 'muted' }, `(${t.slug})`)), tabs, body);
}

function projectsTab(id) {
  return el('section', { class: 'card' },
    pagedList(`/tenants/${id}/projects`, [
    { title: 'Project', cell: (p) => el('a', { href: `#/projects/${p.id}` }, p.name) },
    { title: 'Description', cell: (p) => p.description },
    { title: 'Updated', cell: (p) => when(p.updated_at) },
    ], 'No projects yet.'),
    el('h2', {}, 'New project'),
    form([input('name', 'Name', { required: true }), input('description', 'Description')], 'Create',
      async (v) => { const p = await api.post(`/tenants/${id}/projects`, v); go(`#/projects/${p.id}`); }));
}

function membersTab(id) {
  const reload = () => route();
  return el('section', { class: 'card' },
    pagedList(`/tenants/${id}/members`, [
    { title: 'User', cell: (m) => `${m.name || ''} <${m.email}>` },
    { title: 'Role', cell: (m) => {
        const s = roleSelect();
        s.querySelector('select').value = m.role;
        s.querySelector('select').addEventListener('change', async (ev) => {
          try { await api.patch(`/tenants/${id}/members/${m.user_id}`, { role: ev.target.value }); }
          catch (e) { alert(e.message); reload(); }
        });
        return s;
      } },
    { title: '', cell: (m) => el('button', { class: 'danger', type: 'button', onclick: async () => {
        if (!confirm(`Remove ${m.email}?`)) return;
        try { await api.del(`/tenants/${id}/members/${m.user_id}`); reload(); } catch (e) { alert(e.message); }
      } }, 'Remove') },
    ], 'No members.'),
    el('h2', {}, 'Add member'),
    form([input('email', 'E-mail', { type: 'email', required: true }), roleSelect()], 'Add',
      async (v) => { await api.post(`/tenants/${id}/members`, v); reload(); }));
}

function auditTab(id) {
  const out = el('div');
  const show = (filters) => {
    const q = new URLSearchParams(filters).toString();
    out.replaceChildren(pagedList(`/tenants/${id}/audit${q ? '?' + q : ''}`, [
    { title: 'When', cell: (a) => when(a.at) },
    { title: 'Actor', cell: (a) => a.actor_label || a.actor_type },
    { title: 'Action', cell: (a) => a.action },
    { title: 'Object', cell: (a) => `${a.object_type} ${a.object_id}` },
    { title: 'Outcome', cell: (a) => el('span', { class: `pill ${a.outcome}` }, a.outcome) },
    { title: 'From', cell: (a) => a.source },
    ], 'No events match.'));
  };
  const filters = form([input('action', 'Action'), input('object_type', 'Object type'),
    input('actor', 'Actor (user id)'), input('from', 'From (RFC 3339)'), input('to', 'To (RFC 3339)')],
  'Filter', async (v) => show(v));
  show({});
  return el('section', { class: 'card' }, filters, out);
}

async function projectView(id) {
  const r = await api.request('GET', `/projects/${id}`);
  const p = r.data;
  let etag = r.etag;
  const msg = el('div');
  const f = form([input('name', 'Name', { value: p.name, required: true }),
    input('description', 'Description', { value: p.description })], 'Save', async (v, err) => {
    try {
      const res = await api.patch(`/projects/${id}`, v, etag);
      etag = res.etag;
      notice(msg, 'Saved.');
      err.replaceChildren();
    } catch (e) {
      if (e.status === 412) showError(err, new Error('Changed by someone else since you opened it: reload to see the new version.'));
      else throw e;
    }
  });
  const del = el('button', { class: 'danger', type: 'button', onclick: async () => {
    if (!confirm(`Delete project ${p.name} and everything in it?`)) return;
    try { await api.del(`/projects/${id}`); go(`#/tenants/${p.tenant_id}/projects`); } catch (e) { showError(msg, e); }
  } }, 'Delete project');
  return el('div', {}, el('h1', {}, p.name),
    el('p', {}, el('a', { href: `#/tenants/${p.tenant_id}/projects` }, '← tenant')),
    el('section', { class: 'card' }, f, msg, del));
}

async function tokensView() {
  const secretBox = el('div');
  me = Object.assign(me, await api.get('/auth/me')); // memberships may have changed
  const tenants = me.memberships;
  const columns = [
    { title: 'Name', cell: (t) => t.name },
    { title: 'Prefix', cell: (t) => el('code', {}, t.prefix) },
    { title: 'Tenant', cell: (t) => (tenants.find((m) => m.tenant_id === t.tenant_id) || {}).tenant_name || t.tenant_id },
    { title: 'Role', cell: (t) => t.role },
    { title: 'Expires', cell: (t) => when(t.expires_at) },
    { title: 'Last used', cell: (t) => when(t.last_used_at) },
    { title: 'State', cell: (t) => el('span', { class: `pill ${t.revoked_at ? 'revoked' : 'active'}` }, t.revoked_at ? 'revoked' : 'active') },
    { title: '', cell: (t) => (t.revoked_at ? '' : el('button', { class: 'danger', type: 'button', onclick: async () => {
      if (!confirm(`Revoke ${t.name}?`)) return;
      await api.del(`/tokens/${t.id}`); route();
    } }, 'Revoke')) },
  ];
  const listBox = el('section', { class: 'card' });
  const renderList = () => listBox.replaceChildren(pagedList('/tokens', columns, 'No tokens.'));
  renderList();
  return el('div', {}, el('h1', {}, 'API tokens'), listBox,
    el('section', { class: 'card' }, el('h2', {}, 'New token'),
      form([input('name', 'Name', { required: true }),
        el('label', {}, 'Tenant', el('select', { name: 'tenant_id' },
          tenants.map((m) => el('option', { value: m.tenant_id }, m.tenant_name)))),
        roleSelect(), input('expires_at', 'Expires (RFC 3339, optional)')], 'Create', async (v) => {
        const t = await api.post('/tokens', v);
        secretBox.replaceChildren(el('div', { class: 'notice' },
          'Copy this token now: it is shown only once.', el('div', { class: 'secret' }, t.secret)));
        renderList();
      }), secretBox));
}

function usersView() {
  const shown = el('div');
  return el('div', {}, el('h1', {}, 'Users'),
    el('section', { class: 'card' }, pagedList('/users', [
    { title: 'E-mail', cell: (u) => u.email },
    { title: 'Name', cell: (u) => u.name },
    { title: 'Admin', cell: (u) => (u.is_admin ? 'yes' : '') },
    { title: 'State', cell: (u) => el('button', { class: 'secondary', type: 'button', onclick: async () => {
        try { await api.patch(`/users/${u.id}`, { disabled: !u.disabled }); route(); } catch (e) { alert(e.message); }
      } }, u.disabled ? 'Enable' : 'Disable') },
    { title: '', cell: (u) => el('button', { class: 'danger', type: 'button', onclick: async () => {
        if (!confirm(`Delete ${u.email}?`)) return;
        try { await api.del(`/users/${u.id}`); route(); } catch (e) { alert(e.message); }
      } }, 'Delete') },
    ], 'No users.')),
    el('section', { class: 'card' }, el('h2', {}, 'New user'),
      form([input('email', 'E-mail', { type: 'email', required: true }), input('name', 'Name'),
        input('password', 'Password (empty: generate)', { type: 'password', minlength: 12 })], 'Create', async (v) => {
        const u = await api.post('/users', v);
        shown.replaceChildren(el('div', { class: 'notice' }, `Created ${u.email}.`,
          u.password ? el('div', { class: 'secret' }, `Password (shown once): ${u.password}`) : ''));
      }), shown));
}

// ------------------------------------------------------------------ routing
async function ensureSession() {
  if (me) return true;
  try {
    me = await api.get('/auth/me');
    api.setCsrf(me.csrf_token);
    return true;
  } catch (e) { return false; }
}

async function route() {
  const parts = (location.hash || '#/tenants').slice(2).split('/');
  if (parts[0] === 'login') { view.replaceChildren(loginView()); return; }
  if (!(await ensureSession())) { go('#/login'); return; }
  document.getElementById('top').hidden = false;
  document.getElementById('who').textContent = me.user.email;
  document.getElementById('nav-users').hidden = !me.user.is_admin;
  try {
    let v;
    if (parts[0] === 'tenants' && parts[1]) v = await tenantView(parts[1], parts[2] || 'projects');
    else if (parts[0] === 'projects' && parts[1]) v = await projectView(parts[1]);
    else if (parts[0] === 'tokens') v = await tokensView();
    else if (parts[0] === 'users' && me.user.is_admin) v = usersView();
    else v = tenantsView();
    view.replaceChildren(v);
  } catch (e) {
    const box = el('div');
    showError(box, e);
    view.replaceChildren(box);
  }
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await api.post('/auth/logout'); } catch (e) { /* already signed out */ }
  me = null;
  api.setCsrf(null);
  go('#/login');
});
window.addEventListener('hashchange', route);
route();
