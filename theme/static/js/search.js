// Search page (/tim-kiem/): Pagefind's index, loaded only when the reader searches.
// Query and filters live in the URL (?q=duong&dia-ban=Đức+Linh) so a search can be
// shared and reloaded. Results are drawn with DOM calls only (strict CSP, no innerHTML).

const FILTERS = ["linh-vuc", "dia-ban", "nam", "loai", "giai-doan"];
const TYPE_ORDER = ["Mô hình", "Tin tức"];
const TYPE_LABEL = { model: "Mô hình", news: "Tin tức" };
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
let queue = Promise.resolve();

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

/** Load Pagefind once, on first use. */
function loadPagefind() {
  if (!pagefindPromise) {
    pagefindPromise = import(root.dataset.pagefind).then(async (pagefind) => {
      await pagefind.options({ baseUrl: root.dataset.baseUrl });
      await pagefind.filters();
      return pagefind;
    });
    pagefindPromise.catch(() => {
      pagefindPromise = null;
    });
  }
  return pagefindPromise;
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
  let pagefind;
  try {
    pagefind = await loadPagefind();
  } catch {
    statusLine.textContent = "Chưa tải được chỉ mục tìm kiếm. Bạn có thể duyệt nội dung theo các mục bên dưới.";
    return;
  }
  const { results, counts, totals } = await serially(() => searchAll(pagefind, query, active));
  if (mine !== sequence) return;
  for (const key of FILTERS) fillSelect(key, counts[key] || {}, totals[key]);
  fieldset.hidden = false;
  terms = queryTerms(query);
  exactTerms = hasDiacritics(query)
    ? query.normalize("NFC").toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean)
    : [];
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

/** Run searches one after another (the exact-diacritics switch is global). */
function serially(task) {
  const next = queue.then(task);
  queue = next.catch(() => {});
  return next;
}

/** Tell whether a query carries Vietnamese diacritics (tones, â ê ô ơ ư ă, đ). */
export function hasDiacritics(query) {
  return fold(query) !== query.normalize("NFC").toLowerCase();
}

/** Search with the filters; return results (exact diacritics first) and filter counts. */
async function searchAll(pagefind, query, active) {
  const filters = (without) =>
    Object.fromEntries(Object.entries(active).filter(([key]) => key !== without));
  const search = (without) => pagefind.search(query || null, { filters: filters(without) });
  const main = await search(null);
  let results = main.results;
  if (query && hasDiacritics(query)) {
    // Words typed with their marks rank first: "dục" before "Đức", "phần" before "phân".
    await pagefind.options({ exactDiacritics: true });
    try {
      const exact = (await search(null)).results;
      const ids = new Set(exact.map((result) => result.id));
      results = [...exact, ...results.filter((result) => !ids.has(result.id))];
    } finally {
      await pagefind.options({ exactDiacritics: false });
    }
  }
  // A chosen value's own filter is counted without it, so its neighbours keep counts.
  const counts = { ...main.filters };
  const totals = Object.fromEntries(FILTERS.map((key) => [key, main.results.length]));
  for (const key of Object.keys(active)) {
    const other = await search(key);
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
