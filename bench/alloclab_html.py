"""The report page as HTML (index.html beside README.md), for a browser:
the Markdown the driver writes (headings, paragraphs, lists, tables,
images, `code`, **bold**, links) turned into one self-contained file that
reads offline, the plots as their SVG files (PNG where there is none),
every table sortable by a click on its header (a few lines of plain
JavaScript, no framework). The page records on <body> how many of its
images loaded, for the test that opens it in a headless browser."""
import html
import os
import re

STYLE = """body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #eee; cursor: pointer; user-select: none; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #ddd; }
code { background: #f4f4f4; padding: 0 0.2em; }"""

SCRIPT = """function sortBy(th) {
  var table = th.closest('table'), body = table.tBodies[0], i = th.cellIndex;
  var asc = !th.classList.contains('sorted-asc');
  table.querySelectorAll('th').forEach(function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
  th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
  var key = function (row) {
    var t = row.cells[i] ? row.cells[i].textContent.trim() : '';
    var n = parseFloat(t.replace(/[^0-9eE.+-]/g, ''));
    return isNaN(n) || !/^[-+*]*[0-9.]/.test(t) ? t.toLowerCase() : n;
  };
  Array.from(body.rows).sort(function (a, b) {
    var x = key(a), y = key(b);
    if (typeof x !== typeof y) { x = String(x); y = String(y); }
    return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
  }).forEach(function (r) { body.appendChild(r); });
}
document.querySelectorAll('th').forEach(function (th) { th.addEventListener('click', function () { sortBy(th); }); });
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (im) { return im.complete && im.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images', imgs.length);
  document.body.setAttribute('data-images-loaded', ok);
});"""


def inline(text, out_dir):
    """One line's inline Markdown: code, images, links, bold."""
    parts = re.split(r"(`[^`]*`)", text)
    res = []
    for p in parts:
        if p.startswith("`") and p.endswith("`") and len(p) >= 2:
            res.append(f"<code>{html.escape(p[1:-1])}</code>")
            continue
        p = html.escape(p, quote=False)

        def image(m):
            src = m.group(2)
            svg = os.path.splitext(src)[0] + ".svg"
            if os.path.exists(os.path.join(out_dir, svg)):
                src = svg
            return f'<img src="{html.escape(src)}" alt="{html.escape(m.group(1))}">'

        p = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", image, p)
        p = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', p)
        p = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", p)
        res.append(p)
    return "".join(res)


def table(lines, out_dir):
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    head, body = rows[0], [r for r in rows[2:]]
    numeric = lambda c: bool(re.match(r"^[-+*~]*\d", c))
    h = "".join(f"<th>{inline(c, out_dir)}</th>" for c in head)
    b = "".join("<tr>" + "".join(f'<td class="num">{inline(c, out_dir)}</td>' if numeric(c)
                                 else f"<td>{inline(c, out_dir)}</td>" for c in r) + "</tr>\n" for r in body)
    return f"<table>\n<thead><tr>{h}</tr></thead>\n<tbody>\n{b}</tbody>\n</table>"


def markdown_to_html(md, out_dir):
    out, para, lines, i = [], [], md.splitlines(), 0

    def flush():
        if para:
            out.append("<p>" + inline(" ".join(para), out_dir) + "</p>")
            para.clear()

    while i < len(lines):
        ln = lines[i]
        if ln.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|$", lines[i + 1].strip()):
            flush()
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            out.append(table(lines[i:j], out_dir))
            i = j
            continue
        m = re.match(r"^(#{1,4}) (.*)", ln)
        if m:
            flush()
            n = len(m.group(1))
            anchor = re.sub(r"[^a-z0-9]+", "-", m.group(2).lower()).strip("-")
            out.append(f'<h{n} id="{anchor}">{inline(m.group(2), out_dir)}</h{n}>')
        elif ln.startswith("- "):
            flush()
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{inline(lines[i][2:], out_dir)}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif not ln.strip():
            flush()
        else:
            para.append(ln.strip())
        i += 1
    flush()
    return "\n".join(out)


def write_html(out_dir, md, title):
    body = markdown_to_html(md, out_dir)
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>\n{STYLE}\n</style>\n</head>\n<body>\n{body}\n<script>\n{SCRIPT}\n</script>\n</body>\n</html>\n")
    path = os.path.join(out_dir, "index.html")
    with open(path, "w") as fh:
        fh.write(page)
    return path
