// Search page (/tim-kiem/): Pagefind's index, loaded only when the reader searches.
// Query and filters live in the URL (?q=duong&dia-ban=Đức+Linh) so a search can be
// shared and reloaded. Results are drawn with DOM calls only (strict CSP, no innerHTML).
// The index comes in shards (plugins/search_index): the first one's pagefind.js, with
// the others (listed in pagefind/shards.json) merged into it.

const FILTERS = ["linh-vuc", "dia-ban", "nam", "loai", "giai-doan"];
const TYPE_ORDER = ["Mô hình", "Tin tức"];
const TYPE_LABEL = { model: "Mô hình", news: "Tin tức" };
const SHARD = "manh"; // the filter that tells which shard a result comes from
const PAGE_SIZE = 10;
const EXCERPT_WORDS = 30;
const DELAY_MS = 250;

const root = document.getElementById("search-page");
const form = document.getElementById("search-form");
const input = document.getElementById("search-q");
const fieldset = document.getElementById("search-filters");
const statusLine = document.getElementById("search-status");
const list = document.getElementById("search-results");
const more = document.getElementById("search-more");
const selects = Object.fromEntries(
  FILTERS.map((key) => [key, document.getElementById(`search-${key}`)]),
);

let pagefindPromise = null;
let sequence = 0;
let timer = 0;
let pending = [];
let terms = [];
let exactTerms = [];

/** Fold case and every diacritic, đ included ("Đường" -> "duong"). */
export function fold(text) {
  return text
    .normalize("NFC")
    .toLowerCase()
    .replace(/đ/g, "d")
    .normalize("NFD")
    .replace(/\p{M}/gu, "");
}

/** Return the folded words of a query. */
export function queryTerms(query) {
  return fold(query).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/** Return the words of a query as typed, marks kept (lower case). */
export function exactWords(query) {
  return query.normalize("NFC").toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/** Load Pagefind once, on first use: the first shard's index merged with the others. */
function loadPagefind() {
  if (!pagefindPromise) {
    pagefindPromise = Promise.all([import(root.dataset.pagefind), readShards()]).then(
      async ([pagefind, merge]) => {
        const index = await openIndex(pagefind, merge, {});
        // Pagefind leaves out a shard it could not load: searching the rest would
        // silently miss results, so that is a failure to load (the reader may retry).
        const loaded = (await index.filters())[SHARD] || {};
        if (Object.keys(loaded).length !== merge.length + 1) {
          throw new Error("search: a shard of the index did not load");
        }
        return { pagefind, merge, index, exact: null, checked: new Map() };
      },
    );
    pagefindPromise.catch(() => {
      pagefindPromise = null;
    });
  }
  return pagefindPromise;
}

/** Return the URLs of the shards merged into the first one (pagefind/shards.json). */
async function readShards() {
  const bundle = new URL(root.dataset.pagefind, document.baseURI);
  const response = await fetch(new URL("shards.json", bundle));
  if (!response.ok) throw new Error(`shards.json: ${response.status}`);
  const { merge } = await response.json();
  return merge.map((folder) => new URL(folder, bundle).href);
}

/** Open the first shard's index with these options and merge every other shard. */
async function openIndex(pagefind, merge, extra) {
  const options = { baseUrl: root.dataset.baseUrl, ...extra };
  const index = pagefind.createInstance({});
  // Every result carries its shard's number in a filter of its own (SHARD).
  await index.options({ ...options, mergeFilter: { [SHARD]: "0" } });
  // A merged shard keeps the options it was merged with (Pagefind's options() sets only
  // the first shard's): a search with exact diacritics needs an index of its own.
  await Promise.all(
    merge.map((url, n) =>
      index.mergeIndex(url, { ...options, mergeFilter: { [SHARD]: String(n + 1) } }),
    ),
  );
  return index;
}

/** Return the index that matches diacritics exactly, opened on first use. */
async function exactIndex(loaded) {
  if (!loaded.exact) {
    loaded.exact = openIndex(loaded.pagefind, loaded.merge, { exactDiacritics: true });
    loaded.exact.catch(() => {
      loaded.exact = null;
    });
  }
  return loaded.exact;
}

/** Tell whether a result's text has, for every term, a word that starts with it. */
export function hasEveryTerm(data, terms, exact) {
  const text = [data.content, ...Object.values(data.meta || {})].join(" ");
  const words = exactWords(text);
  const forms = exact ? words : words.map(fold);
  return terms.every((term) => forms.some((word) => word.startsWith(term)));
}

/**
 * Return the numbers of the shards whose results have every word of the query, or
 * null when all of them do. Pagefind answers a word that no page of an index starts
 * with by its longest prefix that one does ("duc" finds "du lịch"): one index over the
 * whole site rarely does that, a shard without the word always does, so each shard's
 * best result is read to tell the two apart (at most one fragment per shard).
 */
function trueShards(loaded, index, query, exact) {
  const count = loaded.merge.length + 1;
  const key = `${exact}:${query}`;
  if (count === 1) return Promise.resolve(null);
  if (!loaded.checked.has(key)) {
    const terms = exact ? exactWords(query) : queryTerms(query);
    const checks = [...Array(count).keys()].map(async (n) => {
      const { results } = await index.search(query, { filters: { [SHARD]: String(n) } });
      if (!results.length) return null; // nothing to show from it either way
      return hasEveryTerm(await results[0].data(), terms, exact) ? String(n) : "";
    });
    const found = Promise.all(checks).then((shards) =>
      shards.includes("") ? shards.filter(Boolean) : null,
    );
    loaded.checked.set(key, found);
    found.catch(() => loaded.checked.delete(key));
  }
  return loaded.checked.get(key);
}

/** Read the query and the filters from the page's URL. */
function readUrl() {
  const params = new URLSearchParams(window.location.search);
  input.value = params.get("q") || "";
  for (const key of FILTERS) {
    const value = params.get(key) || "";
    ensureOption(selects[key], value);
    selects[key].value = value;
  }
}

/** Write the query and the filters into the page's URL. */
function writeUrl(query, active) {
  const params = new URLSearchParams();
  if (query) params.set("q", query);
  for (const key of FILTERS) if (active[key]) params.set(key, active[key]);
  const search = params.toString();
  const url = `${window.location.pathname}${search ? `?${search}` : ""}`;
  if (url !== `${window.location.pathname}${window.location.search}`) {
    window.history.replaceState(null, "", url);
  }
}

/** Make sure a select has an option for a value (e.g. one read from the URL). */
function ensureOption(select, value) {
  if (value && ![...select.options].some((option) => option.value === value)) {
    select.append(new Option(value, value));
  }
}

/** Return the chosen filter values, by filter name. */
function activeFilters() {
  const active = {};
  for (const key of FILTERS) if (selects[key].value) active[key] = selects[key].value;
  return active;
}

/** Sort a filter's values the Vietnamese way (years newest first). */
function sortValues(key, values) {
  if (key === "nam") return values.sort((a, b) => Number(b) - Number(a));
  if (key === "loai") return values.sort((a, b) => TYPE_ORDER.indexOf(a) - TYPE_ORDER.indexOf(b));
  return values.sort((a, b) => a.localeCompare(b, "vi"));
}

/** Refill one select with the values that have results, with their counts. */
function fillSelect(key, counts, total) {
  const select = selects[key];
  const chosen = select.value;
  const values = Object.keys(counts).filter((value) => counts[value] > 0 || value === chosen);
  ensureOption(select, chosen);
  select.replaceChildren(new Option(`Tất cả (${total})`, ""));
  for (const value of sortValues(key, values)) {
    select.append(new Option(`${value} (${counts[value] || 0})`, value));
  }
  select.value = chosen;
}

/** Run the search in the form and draw it. */
async function run() {
  const mine = ++sequence;
  const query = input.value.trim();
  const active = activeFilters();
  writeUrl(query, active);
  if (!query && !Object.keys(active).length) {
    list.replaceChildren();
    more.hidden = true;
    statusLine.textContent = "";
    return;
  }
  statusLine.textContent = "Đang tìm…";
  let loaded;
  try {
    loaded = await loadPagefind();
  } catch {
    statusLine.textContent = "Chưa tải được chỉ mục tìm kiếm. Bạn có thể duyệt nội dung theo các mục bên dưới.";
    return;
  }
  const { results, counts, totals } = await searchAll(loaded, query, active);
  if (mine !== sequence) return;
  for (const key of FILTERS) fillSelect(key, counts[key] || {}, totals[key]);
  fieldset.hidden = false;
  terms = queryTerms(query);
  exactTerms = hasDiacritics(query) ? exactWords(query) : [];
  pending = results;
  list.replaceChildren();
  await showMore(mine);
  if (mine !== sequence) return;
  const count = results.length;
  statusLine.textContent = count
    ? `Tìm thấy ${count.toLocaleString("vi-VN")} kết quả`
    : query
      ? `Không tìm thấy kết quả cho “${query}”.`
      : "Không tìm thấy kết quả.";
}

/** Tell whether a query carries Vietnamese diacritics (tones, â ê ô ơ ư ă, đ). */
export function hasDiacritics(query) {
  return fold(query) !== query.normalize("NFC").toLowerCase();
}

/** Search with the filters; return results (exact diacritics first) and filter counts. */
async function searchAll(loaded, query, active) {
  const only = query ? await trueShards(loaded, loaded.index, query, false) : null;
  if (only && !only.length) {
    return { results: [], counts: {}, totals: Object.fromEntries(FILTERS.map((k) => [k, 0])) };
  }
  const filters = (without, shards) => {
    const chosen = Object.entries(active).filter(([key]) => key !== without);
    if (shards) chosen.push([SHARD, { any: shards }]);
    return Object.fromEntries(chosen);
  };
  const search = (index, without, shards = only) =>
    index.search(query || null, { filters: filters(without, shards) });
  const main = await search(loaded.index, null);
  let results = main.results;
  if (query && hasDiacritics(query)) {
    // Words typed with their marks rank first: "dục" before "Đức", "phần" before "phân".
    const index = await exactIndex(loaded);
    const exactOnly = await trueShards(loaded, index, query, true);
    const found = new Set(results.map((result) => result.id));
    const exact = exactOnly?.length === 0 ? [] : (await search(index, null, exactOnly)).results;
    const ids = new Set(exact.filter((result) => found.has(result.id)).map((r) => r.id));
    const first = results.filter((result) => ids.has(result.id));
    results = [...first, ...results.filter((result) => !ids.has(result.id))];
  }
  // A chosen value's own filter is counted without it, so its neighbours keep counts.
  const counts = { ...main.filters };
  const totals = Object.fromEntries(FILTERS.map((key) => [key, main.results.length]));
  for (const key of Object.keys(active)) {
    const other = await search(loaded.index, key);
    counts[key] = other.filters[key] || {};
    totals[key] = other.results.length;
  }
  return { results, counts, totals };
}

/** Draw the next page of results. */
async function showMore(mine) {
  const batch = pending.slice(0, PAGE_SIZE);
  pending = pending.slice(PAGE_SIZE);
  const items = await Promise.all(batch.map((result) => result.data()));
  if (mine !== sequence) return;
  for (const data of items) list.append(renderResult(data));
  more.hidden = pending.length === 0;
}

/** Build one result: title link, facts line, excerpt. */
function renderResult(data) {
  const item = document.createElement("li");
  item.className = "search-result";
  const heading = document.createElement("h2");
  const link = document.createElement("a");
  link.href = data.url;
  link.textContent = data.meta.title || data.url;
  heading.append(link);
  const facts = document.createElement("p");
  facts.className = "meta";
  const filters = data.filters || {};
  const when = data.meta.date ? data.meta.date : data.meta.year ? `Năm ${data.meta.year}` : "";
  facts.textContent = [
    TYPE_LABEL[data.meta.type],
    when,
    ...(filters["linh-vuc"] || []),
    ...(filters["dia-ban"] || []),
  ]
    .filter(Boolean)
    .join(" · ");
  item.append(heading, facts, renderExcerpt(data));
  return item;
}

/** Return the page's own words: its text without the title and the folded "đ" tail. */
export function bodyWords(content, title, foldCount) {
  let words = content.split(/\s+/).filter(Boolean);
  if (foldCount > 0) words = words.slice(0, -foldCount);
  const titleWords = (title || "").split(/\s+/).filter(Boolean);
  const head = words.slice(0, titleWords.length).join(" ");
  if (titleWords.length && head.replace(/\.$/, "") === titleWords.join(" ")) {
    words = words.slice(titleWords.length);
  }
  return words;
}

/** Split a word into its leading punctuation, its letters and its trailing punctuation. */
function splitWord(word) {
  const match = word.match(/^([^\p{L}\p{N}]*)(.*?)([^\p{L}\p{N}]*)$/u);
  return match ? [match[1], match[2], match[3]] : ["", word, ""];
}

/** Score a word against the query: 10 typed exactly, 1 without its marks, 0 no match. */
function matches(core) {
  const folded = fold(core);
  if (!folded) return 0;
  const word = core.normalize("NFC").toLowerCase();
  if (exactTerms.some((term) => word === term)) return 10;
  const last = terms.length - 1;
  return terms.some((term, i) => folded === term || (i === last && folded.startsWith(term)))
    ? 1
    : 0;
}

/** Build the excerpt from the real Vietnamese text, with the matches marked. */
export function renderExcerpt(data) {
  const paragraph = document.createElement("p");
  paragraph.className = "search-excerpt";
  const words = bodyWords(data.content || "", data.meta.title, Number(data.meta.fold || 0));
  const cores = words.map((word) => splitWord(word)[1]);
  const hits = cores.map(matches);
  let best = 0;
  let bestCount = -1;
  for (let start = 0; start < Math.max(1, words.length - EXCERPT_WORDS + 1); start++) {
    // The window showing the most different query words wins, then the most matches.
    let count = 0;
    const seen = new Set();
    for (let i = start; i < Math.min(words.length, start + EXCERPT_WORDS); i++) {
      count += hits[i];
      if (hits[i]) seen.add(fold(cores[i]));
    }
    count += 100 * seen.size;
    if (count > bestCount) {
      bestCount = count;
      best = start;
    }
  }
  const windowEnd = Math.min(words.length, best + EXCERPT_WORDS);
  const first = hits.findIndex((hit, i) => i >= best && hit > 0);
  const last = first < 0 ? -1 : windowEnd - 1 - [...hits.slice(first, windowEnd)].reverse().findIndex((hit) => hit > 0);
  const start = first >= 0 ? Math.max(0, first - 5) : 0;
  const end = Math.min(words.length, Math.max(start + EXCERPT_WORDS, last + 4));
  if (start > 0) paragraph.append("… ");
  words.slice(start, end).forEach((word, offset) => {
    if (offset > 0) paragraph.append(" ");
    const [before, core, after] = splitWord(word);
    if (hits[start + offset]) {
      const mark = document.createElement("mark");
      mark.textContent = core;
      paragraph.append(before, mark, after);
    } else {
      paragraph.append(word);
    }
  });
  if (end < words.length) paragraph.append(" …");
  return paragraph;
}

/** Search a moment after the reader stops typing. */
function later() {
  window.clearTimeout(timer);
  timer = window.setTimeout(run, DELAY_MS);
}

function start() {
  const nojs = document.getElementById("search-nojs");
  if (nojs) nojs.textContent = "Hoặc duyệt toàn bộ nội dung theo:";
  readUrl();
  input.addEventListener("focus", () => loadPagefind().catch(() => {}), { once: true });
  input.addEventListener("input", later);
  for (const select of Object.values(selects)) select.addEventListener("change", run);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(timer);
    run();
  });
  more.addEventListener("click", () => showMore(sequence));
  if (input.value || Object.keys(activeFilters()).length) run();
}

if (root) start();
