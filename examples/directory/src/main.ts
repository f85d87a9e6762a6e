// main.ts — the directory page: filters, cursor paging and the language switch, over the typed
// client. Everything the page shows of the API's data goes in with textContent, never as HTML.
//
// The page's own URL holds its state, so that a view can be shared: ?state=MX-CMX&type=…
// &status=…&q=…&lang=es|en&limit=N. ?api=ORIGIN points it at an API on another origin (which
// must list this page's origin in CORS_ALLOWED_ORIGINS); without it, the page's own origin.
import { ApiProblem, directoryClient } from './client';
import type { AgencyStatus, AgencyType, DirectoryFilters, DirectoryRow, Lang } from './client';
import { STATES, TEXTS } from './i18n';
import type { Texts } from './i18n';

const DEFAULT_LIMIT = 10;

interface PageState {
  lang: Lang;
  filters: DirectoryFilters;
  limit: number;
  /** cursors[i] fetches page i + 1; cursors[0] is undefined (the first page). */
  cursors: (string | undefined)[];
  rows: DirectoryRow[];
  nextCursor: string | null;
}

function element<T extends HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector);
  if (found === null) throw new Error(`index.html lacks ${selector}`);
  return found;
}

const form = element<HTMLFormElement>('#filters');
const stateSelect = element<HTMLSelectElement>('select[name=state]');
const typeSelect = element<HTMLSelectElement>('select[name=type]');
const statusSelect = element<HTMLSelectElement>('select[name=status]');
const queryInput = element<HTMLInputElement>('input[name=q]');
const tbody = element<HTMLTableSectionElement>('#agencies tbody');
const summary = element<HTMLElement>('#summary');
const problemBox = element<HTMLElement>('#problem');
const firstButton = element<HTMLButtonElement>('#first');
const prevButton = element<HTMLButtonElement>('#prev');
const nextButton = element<HTMLButtonElement>('#next');

const params = new URLSearchParams(location.search);
const api = directoryClient(apiOrigin(params.get('api')));
const state: PageState = {
  lang: langOf(params.get('lang') ?? navigator.language),
  filters: filtersOf(params),
  limit: limitOf(params.get('limit')),
  cursors: [undefined],
  rows: [],
  nextCursor: null,
};
let loads = 0; // answers to older requests than the last one are dropped

function apiOrigin(given: string | null): string {
  if (given === null || given === '') return '';
  const url = new URL(given, location.href);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`?api= must be http(s): ${given}`);
  return url.origin;
}

function langOf(value: string): Lang {
  return value.toLowerCase().startsWith('en') ? 'en' : 'es';
}

function isType(value: string): value is AgencyType {
  return Object.hasOwn(TEXTS.en.type, value);
}

function isStatus(value: string): value is AgencyStatus {
  return Object.hasOwn(TEXTS.en.status, value);
}

function filtersOf(from: URLSearchParams): DirectoryFilters {
  const filters: DirectoryFilters = {};
  const st = from.get('state');
  const type = from.get('type');
  const status = from.get('status');
  const q = from.get('q');
  if (st) filters.state = st;
  if (type && isType(type)) filters.type = type;
  if (status && isStatus(status)) filters.status = [status];
  if (q) filters.q = q;
  return filters;
}

function limitOf(value: string | null): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 200 ? n : DEFAULT_LIMIT;
}

/** Rewrites the address bar to the current filters, language and page size. */
function rememberInUrl(): void {
  const next = new URLSearchParams();
  const apiParam = params.get('api');
  if (apiParam) next.set('api', apiParam);
  next.set('lang', state.lang);
  const { state: st, type, status, q } = state.filters;
  if (st) next.set('state', st);
  if (type) next.set('type', type);
  if (status?.[0]) next.set('status', status[0]);
  if (q) next.set('q', q);
  if (state.limit !== DEFAULT_LIMIT) next.set('limit', String(state.limit));
  history.replaceState(null, '', `?${next}`);
}

function fillSelect(select: HTMLSelectElement, any: string, options: ReadonlyArray<readonly [string, string]>, value?: string) {
  select.replaceChildren(new Option(any, ''), ...options.map(([v, label]) => new Option(label, v)));
  select.value = value ?? '';
}

/** Puts every text of the page in the current language (the rows included). */
function applyTexts(): void {
  const t: Texts = TEXTS[state.lang];
  document.documentElement.lang = state.lang;
  document.title = t.ui.title;
  for (const node of document.querySelectorAll<HTMLElement>('[data-label]')) {
    const key = node.dataset.label as keyof Texts['ui'];
    const text = t.ui[key];
    if (typeof text === 'string') node.textContent = text;
  }
  fillSelect(stateSelect, t.ui.any, STATES, state.filters.state);
  fillSelect(typeSelect, t.ui.any, Object.entries(t.type), state.filters.type);
  fillSelect(statusSelect, t.ui.any, Object.entries(t.status), state.filters.status?.[0]);
  queryInput.value = state.filters.q ?? '';
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-lang]'))
    button.setAttribute('aria-pressed', String(button.dataset.lang === state.lang));
  renderRows();
}

function cell(text: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function renderRows(): void {
  const t = TEXTS[state.lang];
  const stateNames = new Map(STATES);
  tbody.replaceChildren(
    ...state.rows.map((row) => {
      const tr = document.createElement('tr');
      tr.dataset.id = row.id;
      tr.append(cell(row.name), cell(t.type[row.type]), cell(t.level[row.level]),
        cell(stateNames.get(row.state) ?? row.state), cell(t.status[row.status]),
        cell(row.accredited_on ?? '—'), cell(row.accreditation_expires_on ?? '—'));
      return tr;
    }),
  );
  const page = state.cursors.length;
  summary.textContent = document.body.dataset.status === 'loading' ? t.ui.loading
    : state.rows.length === 0 ? t.ui.empty : t.ui.page(page, state.rows.length);
  firstButton.disabled = prevButton.disabled = page === 1;
  nextButton.disabled = state.nextCursor === null;
}

function showProblem(e: unknown): void {
  problemBox.replaceChildren();
  if (e instanceof ApiProblem) {
    const { title, detail, errors } = e.problem;
    const heading = document.createElement('strong');
    heading.textContent = title;
    problemBox.append(heading);
    if (detail !== title) problemBox.append(` ${detail}`);
    if (errors?.length) {
      // "/query/q" names the parameter q: the last segment of the pointer is the field.
      const list = document.createElement('ul');
      for (const err of errors) {
        const item = document.createElement('li');
        item.textContent = `${err.field.split('/').pop()}: ${err.message}`;
        list.append(item);
      }
      problemBox.append(list);
    }
  } else {
    problemBox.textContent = `${TEXTS[state.lang].ui.network}: ${e instanceof Error ? e.message : String(e)}`;
  }
  problemBox.hidden = false;
}

/** Fetches the current page (the last cursor) and shows it, or the problem. */
async function load(): Promise<void> {
  const mine = ++loads;
  document.body.dataset.status = 'loading';
  renderRows();
  try {
    const page = await api.page(state.filters, state.lang, state.limit, state.cursors.at(-1));
    if (mine !== loads) return;
    state.rows = page.rows;
    state.nextCursor = page.nextCursor;
    problemBox.hidden = true;
    document.body.dataset.status = 'ready';
  } catch (e) {
    if (mine !== loads) return;
    state.rows = [];
    state.nextCursor = null;
    showProblem(e);
    document.body.dataset.status = 'error';
  }
  document.body.dataset.page = String(state.cursors.length);
  renderRows();
}

/** A new search: the filters from the form, back to the first page. */
function search(): void {
  const filters: DirectoryFilters = {};
  if (stateSelect.value) filters.state = stateSelect.value;
  if (typeSelect.value && isType(typeSelect.value)) filters.type = typeSelect.value;
  if (statusSelect.value && isStatus(statusSelect.value)) filters.status = [statusSelect.value];
  if (queryInput.value.trim()) filters.q = queryInput.value.trim();
  state.filters = filters;
  state.cursors = [undefined];
  rememberInUrl();
  void load();
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  search();
});
for (const select of [stateSelect, typeSelect, statusSelect]) select.addEventListener('change', search);
nextButton.addEventListener('click', () => {
  if (state.nextCursor === null) return;
  state.cursors.push(state.nextCursor);
  void load();
});
prevButton.addEventListener('click', () => {
  if (state.cursors.length > 1) state.cursors.pop();
  void load();
});
firstButton.addEventListener('click', () => {
  state.cursors = [undefined];
  void load();
});
for (const button of document.querySelectorAll<HTMLButtonElement>('[data-lang]')) {
  button.addEventListener('click', () => {
    state.lang = langOf(button.dataset.lang ?? 'es');
    rememberInUrl();
    applyTexts();
    void load(); // the same page again: problems come back in the new language
  });
}

applyTexts();
rememberInUrl();
void load();
