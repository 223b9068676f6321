// Long tables (排名, 年度排名) a page of rows at a time (pure). At 50 000 units a county table would be
// ≈ 95 MB of HTML in one page; a province's categories fit in one page and show no pager.

/** Rows a table page shows. Exported (mutable) for tests. */
export const paging = { rows: 1000 };

export interface TablePage {
  /** 1-based. */
  page: number;
  pages: number;
  /** Rows start … end - 1 of the table. */
  start: number;
  end: number;
  size: number;
}

/**
 * The page `raw` asks for (the `page` query parameter) of a table of `size` rows; a page out of range is
 * the nearest one, anything else the first (or `fallback`, e.g. the page with the reporter's own unit).
 */
export function tablePage(raw: unknown, size: number, fallback = 1): TablePage {
  const rows = Math.max(1, paging.rows);
  const pages = Math.max(1, Math.ceil(size / rows));
  const asked = typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : fallback;
  const page = Math.min(Math.max(1, asked), pages);
  return { page, pages, start: (page - 1) * rows, end: Math.min(size, page * rows), size };
}

/** The page on which row `position` (0-based) of a table is; 1 when the table does not have it (-1). */
export function pageWith(position: number): number {
  return position < 0 ? 1 : Math.floor(position / Math.max(1, paging.rows)) + 1;
}

export interface PagerLocals {
  text: string;
  first: string | null;
  prev: string | null;
  next: string | null;
  last: string | null;
  /** The GET form that jumps to a page: its action and the other parameters as hidden fields. */
  action: string;
  hidden: { name: string; value: string }[];
  page: number;
  pages: number;
}

/**
 * The pager's template locals (views/partials/pager.hbs); null for a table of one page. `query`: the
 * page's other parameters (kept by every link and by the jump form).
 */
export function pagerLocals(p: TablePage, action: string, query: Record<string, string | undefined | null>): PagerLocals | null {
  if (p.pages <= 1) return null;
  const kept = Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '');
  const href = (page: number) => `${action}?${new URLSearchParams([...kept, ['page', String(page)]]).toString()}`;
  return {
    text: `第 ${p.page} / ${p.pages} 页，第 ${p.start + 1}–${p.end} 行（共 ${p.size} 个单位，每页 ${paging.rows} 个）`,
    first: p.page > 1 ? href(1) : null,
    prev: p.page > 1 ? href(p.page - 1) : null,
    next: p.page < p.pages ? href(p.page + 1) : null,
    last: p.page < p.pages ? href(p.pages) : null,
    action,
    hidden: kept.map(([name, value]) => ({ name, value })),
    page: p.page,
    pages: p.pages,
  };
}
