/* galcat explore: the galaxy table, galaxy panel, embedding map, report and export.
 * Plain JavaScript, no libraries, no network. Every catalogue string reaches the page through
 * textContent or an attribute set by the DOM API, never through innerHTML. */
(function () {
  "use strict";
  var D = window.GALCAT_DATA;
  var R = D.rows, M = D.meta, N = M.n;
  var PAGE = 200;
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#843c39", "#3182bd"];
  var state = { view: [], sortKey: null, sortDir: 1, page: 0, selected: -1, mapColour: "pred" };
  var idIndex = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(v, d) { return v === null || v === undefined ? "\u2014" : Number(v).toFixed(d); }
  function label(code) { return code >= 0 ? M.labels[code] : ""; }
  function colour(code) { return code >= 0 ? PALETTE[code % PALETTE.length] : "#999"; }
  function rowOf(id) {
    if (!idIndex) {
      idIndex = new Map();
      for (var i = 0; i < N; i++) if (!idIndex.has(R.id[i])) idIndex.set(R.id[i], i);
    }
    return idIndex.has(id) ? idIndex.get(id) : -1;
  }

  /* ---- images: a cell of a sprite sheet, or a placeholder ---- */
  function image(sheet, cell, px, alt) {
    if (!sheet || cell === undefined || cell === null || cell < 0) {
      var p = el("span", "placeholder", "no image");
      p.style.width = px + "px"; p.style.height = px + "px";
      return p;
    }
    var s = px / sheet.size, local = cell % sheet.per;
    var d = el("span", "thumb");
    d.setAttribute("role", "img");
    d.setAttribute("aria-label", alt || "");
    d.style.width = px + "px"; d.style.height = px + "px";
    d.style.backgroundImage = "url(\"" + sheet.prefix + Math.floor(cell / sheet.per) + ".jpg\")";
    d.style.backgroundSize = (sheet.side * sheet.size * s) + "px auto";
    d.style.backgroundPosition = (-(local % sheet.side) * px) + "px " + (-Math.floor(local / sheet.side) * px) + "px";
    return d;
  }

  /* ---- filters, sorting, paging ---- */
  function readFilters() {
    var num = function (id) { var v = $(id).value; return v === "" ? null : Number(v); };
    return {
      pred: Number($("f-pred").value), truth: Number($("f-true").value), mistakes: $("f-mistakes").checked,
      entropy: num("f-entropy"), agreement: num("f-agreement"), text: $("f-text").value.trim().toLowerCase()
    };
  }
  function isMistake(i) { return R.true[i] >= 0 && R.pred[i] >= 0 && R.true[i] !== R.pred[i]; }
  var lowerIds = null;
  function applyFilters() {
    var f = readFilters(), out = [];
    if (f.text && !lowerIds) lowerIds = R.id.map(function (s) { return s.toLowerCase(); });
    for (var i = 0; i < N; i++) {
      if (f.pred >= 0 && R.pred[i] !== f.pred) continue;
      if (f.truth >= 0 && R.true[i] !== f.truth) continue;
      if (f.mistakes && !isMistake(i)) continue;
      if (f.entropy !== null && !(R.entropy[i] !== null && R.entropy[i] >= f.entropy)) continue;
      if (f.agreement !== null && !(R.agreement[i] !== null && R.agreement[i] <= f.agreement)) continue;
      if (f.text && lowerIds[i].indexOf(f.text) < 0) continue;
      out.push(i);
    }
    state.view = out;
    sortView();
    state.page = 0;
    renderTable();
    if (!$("view-map").hidden) drawMap();
  }
  function sortValue(key, i) {
    if (key === "pred" || key === "true") return R[key][i] >= 0 ? M.labels[R[key][i]] : null;
    return R[key][i];
  }
  function sortView() {
    var key = state.sortKey, dir = state.sortDir;
    if (!key) return;
    state.view.sort(function (a, b) {
      var x = sortValue(key, a), y = sortValue(key, b);
      if (x === null || x === "") return (y === null || y === "") ? a - b : 1;
      if (y === null || y === "") return -1;
      if (x < y) return -dir;
      if (x > y) return dir;
      return a - b;
    });
  }
  function renderTable() {
    var body = document.querySelector("#galaxies tbody");
    var pages = Math.max(1, Math.ceil(state.view.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    var rows = state.view.slice(state.page * PAGE, (state.page + 1) * PAGE);
    var frag = document.createDocumentFragment();
    rows.forEach(function (i) {
      var tr = el("tr");
      tr.dataset.row = i;
      if (isMistake(i)) tr.className = "mistake";
      if (i === state.selected) tr.classList.add("selected");
      var td = el("td"); td.appendChild(image(D.sheets.thumb, R.cell[i], 40, R.id[i])); tr.appendChild(td);
      tr.appendChild(el("td", "id", R.id[i]));
      tr.appendChild(el("td", "num", fmt(R.ra[i], 5)));
      tr.appendChild(el("td", "num", fmt(R.dec[i], 5)));
      tr.appendChild(el("td", "pred", label(R.pred[i])));
      tr.appendChild(el("td", "num", fmt(R.prob[i], 3)));
      tr.appendChild(el("td", "num", fmt(R.entropy[i], 3)));
      tr.appendChild(el("td", "num", fmt(R.agreement[i], 2)));
      tr.appendChild(el("td", "true", label(R.true[i])));
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    $("count").textContent = state.view.length + " of " + N + " galaxies";
    $("page-info").textContent = "page " + (state.page + 1) + " of " + pages;
    $("page-prev").disabled = state.page === 0;
    $("page-next").disabled = state.page >= pages - 1;
    $("pager").hidden = pages === 1;
    document.querySelectorAll("#galaxies th[data-key]").forEach(function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
      if (th.dataset.key === state.sortKey) th.classList.add(state.sortDir > 0 ? "sorted-asc" : "sorted-desc");
    });
  }

  /* ---- the galaxy panel ---- */
  function skyLinks(ra, dec) {
    var r = Number(ra).toFixed(6), d = Number(dec).toFixed(6);
    return [
      ["SDSS SkyServer navigate", "https://skyserver.sdss.org/dr18/VisualTools/navi?ra=" + r + "&dec=" + d + "&scale=0.2"],
      ["Legacy Surveys viewer", "https://www.legacysurvey.org/viewer?ra=" + r + "&dec=" + d + "&layer=ls-dr10&zoom=15"],
      ["Aladin Lite (CDS)", "https://aladin.cds.unistra.fr/AladinLite/?target=" + encodeURIComponent(r + " " + d) + "&fov=0.05"]
    ];
  }
  function fact(dl, name, value) { dl.appendChild(el("dt", null, name)); dl.appendChild(el("dd", null, value)); }
  function openGalaxy(i) {
    if (i < 0 || i >= N) return;
    state.selected = i;
    var panel = $("panel");
    panel.hidden = false;
    panel.dataset.row = i;
    $("panel-image").replaceChildren(image(D.sheets.large, R.cell[i], 192, R.id[i]));
    $("panel-id").textContent = R.id[i];
    var dl = $("panel-facts"); dl.replaceChildren();
    fact(dl, "RA, Dec", fmt(R.ra[i], 6) + ", " + fmt(R.dec[i], 6));
    fact(dl, "predicted", label(R.pred[i]) + (R.prob[i] !== null ? " (p = " + fmt(R.prob[i], 3) + ")" : ""));
    fact(dl, "true", label(R.true[i]) || "\u2014");
    if (M.has_entropy) fact(dl, "entropy", fmt(R.entropy[i], 3));
    if (M.has_agreement) fact(dl, "fold agreement", fmt(R.agreement[i], 2));
    renderProbs(i);
    var links = $("panel-links"); links.replaceChildren();
    if (R.ra[i] !== null && R.dec[i] !== null) {
      skyLinks(R.ra[i], R.dec[i]).forEach(function (pair) {
        var li = el("li"), a = el("a", "external", pair[0]);
        a.href = pair[1]; a.target = "_blank"; a.rel = "noopener noreferrer external";
        a.title = "external site: " + pair[1];
        li.appendChild(a); links.appendChild(li);
      });
    } else links.appendChild(el("li", "hint", "no position"));
    renderNeighbours(i);
    document.querySelectorAll("#galaxies tbody tr").forEach(function (tr) {
      tr.classList.toggle("selected", Number(tr.dataset.row) === i);
    });
    if (!$("view-map").hidden) drawMap();
  }
  function renderProbs(i) {
    var box = $("panel-probs"); box.replaceChildren();
    var probs = R.probs[i] || [], std = R.std ? R.std[i] : null;
    probs.forEach(function (p, c) {
      var row = el("div", "prob-row");
      row.appendChild(el("span", null, M.classes[c]));
      var track = el("div", "prob-track"), bar = el("div", c === R.pred[i] ? "prob-bar top" : "prob-bar");
      bar.style.width = (100 * p) + "%";
      track.appendChild(bar);
      if (std) {
        var s = el("div", "prob-spread");
        var lo = Math.max(0, p - std[c]), hi = Math.min(1, p + std[c]);
        s.style.left = (100 * lo) + "%"; s.style.width = (100 * (hi - lo)) + "%";
        track.appendChild(s);
      }
      row.appendChild(track);
      row.appendChild(el("span", null, std ? fmt(p, 2) + "\u00b1" + fmt(std[c], 2) : fmt(p, 3)));
      box.appendChild(row);
    });
  }
  function neighbourItem(id, lab, dist, sheet, cell, truth, row) {
    var li = el("li", "neighbour");
    li.dataset.id = id;
    li.appendChild(image(sheet, cell, 72, id));
    li.appendChild(el("div", null, id));
    var l = el("div", truth ? (lab === truth ? "match" : "mismatch") : null, lab);
    li.appendChild(l);
    if (dist !== null && dist !== undefined) li.appendChild(el("div", "hint", "d = " + fmt(dist, 3)));
    if (row >= 0) { li.classList.add("link"); li.title = "open " + id; li.addEventListener("click", function () { openGalaxy(row); }); }
    return li;
  }
  function renderNeighbours(i) {
    var list = $("panel-neighbours"); list.replaceChildren();
    var note = $("panel-nn-note");
    if (!D.knn) { note.textContent = "No neighbours: the catalogue has no knn_ids column (run galcat embed with --reference)."; return; }
    note.textContent = D.sheets.ref ? "" : "No --reference store was given when the site was written: neighbours are listed without images.";
    var ids = D.knn.ids[i], labs = D.knn.labels[i], dists = D.knn.dists[i], cells = D.knn.cells ? D.knn.cells[i] : [];
    var truth = label(R.true[i]) || label(R.pred[i]);
    if (!ids.length) { note.textContent = "No neighbours for this galaxy."; return; }
    /* a neighbour opens in the panel only when the reference galaxies are this catalogue's own */
    var own = M.reference_is_store;
    ids.forEach(function (id, j) {
      list.appendChild(neighbourItem(id, labs[j], dists[j], D.sheets.ref, cells[j], truth, own ? rowOf(id) : -1));
    });
  }

  /* ---- embedding map ---- */
  var mapPixels = null;
  function mapGeometry() {
    var c = $("map"), xs = D.map.x, ys = D.map.y, pad = 16;
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (var i = 0; i < N; i++) {
      if (xs[i] === null) continue;
      x0 = Math.min(x0, xs[i]); x1 = Math.max(x1, xs[i]); y0 = Math.min(y0, ys[i]); y1 = Math.max(y1, ys[i]);
    }
    var sx = (c.width - 2 * pad) / ((x1 - x0) || 1), sy = (c.height - 2 * pad) / ((y1 - y0) || 1);
    return function (i) { return [pad + (D.map.x[i] - x0) * sx, c.height - pad - (D.map.y[i] - y0) * sy]; };
  }
  function drawMap() {
    if (!D.map) return;
    var c = $("map"), g = c.getContext("2d"), at = mapGeometry();
    var inView = new Uint8Array(N);
    state.view.forEach(function (i) { inView[i] = 1; });
    var key = state.mapColour === "true" ? "true" : "pred";
    g.clearRect(0, 0, c.width, c.height);
    mapPixels = new Float32Array(2 * N);
    var r = N > 20000 ? 1.5 : N > 2000 ? 2.5 : 4;
    for (var pass = 0; pass < 2; pass++) {
      for (var i = 0; i < N; i++) {
        if (D.map.x[i] === null || inView[i] !== pass) continue;
        var p = at(i);
        mapPixels[2 * i] = p[0]; mapPixels[2 * i + 1] = p[1];
        g.fillStyle = pass ? colour(R[key][i]) : "#d5d8dd";
        g.beginPath(); g.arc(p[0], p[1], r, 0, 2 * Math.PI); g.fill();
      }
    }
    if (state.selected >= 0 && D.map.x[state.selected] !== null) {
      var q = at(state.selected);
      g.strokeStyle = "#000"; g.lineWidth = 2; g.beginPath(); g.arc(q[0], q[1], r + 5, 0, 2 * Math.PI); g.stroke();
    }
    var legend = $("map-legend"); legend.replaceChildren();
    M.labels.forEach(function (name, code) {
      var s = el("span"), dot = el("i");
      dot.style.background = colour(code);
      s.appendChild(dot); s.appendChild(document.createTextNode(name)); legend.appendChild(s);
    });
  }
  function mapPoint(i) {
    /* page coordinates (CSS pixels, relative to the canvas) of galaxy i on the map */
    var c = $("map"), p = mapGeometry()(i), box = c.getBoundingClientRect();
    return [p[0] * box.width / c.width, p[1] * box.height / c.height];
  }
  function mapClick(ev) {
    if (!mapPixels) return;
    var c = $("map"), box = c.getBoundingClientRect();
    var x = (ev.clientX - box.left) * c.width / box.width, y = (ev.clientY - box.top) * c.height / box.height;
    var best = -1, bestD = 100;
    var inView = new Set(state.view);
    for (var i = 0; i < N; i++) {
      if (D.map.x[i] === null || !inView.has(i)) continue;
      var dx = mapPixels[2 * i] - x, dy = mapPixels[2 * i + 1] - y, d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    if (best >= 0) openGalaxy(best);
  }

  /* ---- report: metrics, confusion matrix, figures, mistakes ---- */
  function renderReport() {
    var rep = D.report, box = $("report-metrics");
    box.replaceChildren();
    if (rep) {
      box.appendChild(el("h2", null, "Evaluation of " + rep.model + (rep.kind ? " (" + rep.kind + ")" : "")));
      box.appendChild(el("p", "hint", "query store: " + rep.query + (rep.n_query ? ", " + rep.n_query + " galaxies" : "")));
      var t = el("table", "metrics");
      rep.metrics.forEach(function (m) { var tr = el("tr"); tr.appendChild(el("td", null, m[0])); tr.appendChild(el("td", null, m[1])); t.appendChild(tr); });
      box.appendChild(t);
      var figs = $("report-figures"); figs.replaceChildren();
      [["calibration", "Reliability diagram"], ["roc", "ROC curves"]].forEach(function (f) {
        if (!rep.figures[f[0]]) return;
        var fig = el("figure"), img = el("img");
        img.src = rep.figures[f[0]]; img.alt = f[1]; img.loading = "lazy"; img.id = "figure-" + f[0];
        fig.appendChild(img); fig.appendChild(el("figcaption", "hint", f[1])); figs.appendChild(fig);
      });
      renderMistakes(rep);
    } else box.appendChild(el("p", "hint", "No --report given: run galcat evaluate and pass its --out folder for metrics, the reliability diagram and the most confident mistakes."));
    renderConfusion();
  }
  function renderMistakes(rep) {
    var box = $("mistakes"); box.replaceChildren();
    if (!rep.mistakes.length) return;
    $("mistakes-title").hidden = false;
    var found = 0;
    rep.mistakes.forEach(function (m) {
      var row = rowOf(String(m.objid || "")), item = el("div", "item");
      item.dataset.id = m.objid || "";
      item.appendChild(image(D.sheets.thumb, row >= 0 ? R.cell[row] : -1, 96, m.objid));
      item.appendChild(el("div", null, m.objid || ("row " + m.row)));
      item.appendChild(el("div", "mismatch", "true " + m.true + ", predicted " + m.predicted + " (" + fmt(m.probability, 2) + ")"));
      if (row >= 0) { found++; item.classList.add("link"); item.addEventListener("click", function () { openGalaxy(row); }); }
      box.appendChild(item);
    });
    if (!found && rep.figures.errors) {
      var img = el("img"); img.src = rep.figures.errors; img.alt = "most confident mistakes"; box.replaceChildren(img);
    }
  }
  function renderConfusion() {
    var box = $("confusion");
    box.replaceChildren();
    var truths = [], preds = [], seenT = {}, seenP = {}, counts = {};
    for (var i = 0; i < N; i++) {
      var t = R.true[i], p = R.pred[i];
      if (t < 0 || p < 0) continue;
      seenT[t] = 1; seenP[p] = 1;
      counts[t + "," + p] = (counts[t + "," + p] || 0) + 1;
    }
    M.labels.forEach(function (_, c) { if (seenT[c] || seenP[c]) { truths.push(c); preds.push(c); } });
    if (!truths.length) { box.appendChild(el("p", "hint", "No true labels in this catalogue.")); return; }
    var table = el("table", "confusion"), head = el("tr");
    head.appendChild(el("th", null, "true \\ predicted"));
    preds.forEach(function (p) { head.appendChild(el("th", null, M.labels[p])); });
    table.appendChild(head);
    truths.forEach(function (t) {
      var tr = el("tr"), total = 0;
      preds.forEach(function (p) { total += counts[t + "," + p] || 0; });
      tr.appendChild(el("th", null, M.labels[t] + " (" + total + ")"));
      preds.forEach(function (p) {
        var n = counts[t + "," + p] || 0, td = el("td", t === p ? "diag" : null);
        var b = el("button", null, n);
        b.type = "button"; b.dataset.true = t; b.dataset.pred = p;
        b.title = "list the " + n + " galaxies of true " + M.labels[t] + ", predicted " + M.labels[p];
        var share = total ? n / total : 0;
        td.style.background = "rgba(31,119,180," + (0.85 * share).toFixed(3) + ")";
        if (share > 0.55) b.style.color = "#fff";
        b.addEventListener("click", function () { showCell(t, p); });
        td.appendChild(b); tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    box.appendChild(table);
  }
  function showCell(t, p) {
    resetFilters(false);
    $("f-true").value = String(t); $("f-pred").value = String(p);
    showView("table");
    applyFilters();
  }

  /* ---- export of the current selection ---- */
  function exportRows() { return state.view.slice(); }
  function csvCell(v) {
    if (v === null || v === undefined) return "";
    var s = String(v);
    return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? "\"" + s.replace(/"/g, "\"\"") + "\"" : s;
  }
  function exportCSV() {
    var cols = D.export.columns, vals = D.export.values, lines = [cols.map(function (c) { return csvCell(c.name); }).join(",")];
    exportRows().forEach(function (i) { lines.push(vals.map(function (v) { return csvCell(v[i]); }).join(",")); });
    return lines.join("\r\n") + "\r\n";
  }
  function xml(s) {
    return String(s).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  var LONG_NULL = "-9223372036854775808";
  function exportVOTable() {
    var cols = D.export.columns, vals = D.export.values, rows = exportRows(), out = [];
    out.push("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    out.push("<VOTABLE version=\"1.4\" xmlns=\"http://www.ivoa.net/xml/VOTable/v1.3\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">");
    out.push("<RESOURCE type=\"results\">");
    out.push("<DESCRIPTION>" + xml("Selection of " + rows.length + " galaxies from " + M.catalogue + " (galcat explore)") + "</DESCRIPTION>");
    out.push("<TABLE name=\"galcat_selection\" nrows=\"" + rows.length + "\">");
    cols.forEach(function (c, j) {
      var a = "<FIELD name=\"" + xml(c.name) + "\" datatype=\"" + c.datatype + "\"";
      if (c.datatype === "char") a += " arraysize=\"*\"";
      if (c.unit) a += " unit=\"" + xml(c.unit) + "\"";
      if (c.ucd) a += " ucd=\"" + xml(c.ucd) + "\"";
      a += ">";
      if (c.description) a += "<DESCRIPTION>" + xml(c.description) + "</DESCRIPTION>";
      if (c.datatype === "long" && vals[j].indexOf(null) >= 0) a += "<VALUES null=\"" + LONG_NULL + "\"/>";
      out.push(a + "</FIELD>");
    });
    out.push("<DATA><TABLEDATA>");
    rows.forEach(function (i) {
      var tds = cols.map(function (c, j) {
        var v = vals[j][i];
        if (v === null || v === undefined) return c.datatype === "long" ? "<TD>" + LONG_NULL + "</TD>" : "<TD/>";
        if (c.datatype === "boolean") return "<TD>" + (v ? "T" : "F") + "</TD>";
        return "<TD>" + xml(v) + "</TD>";
      });
      out.push("<TR>" + tds.join("") + "</TR>");
    });
    out.push("</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>");
    return out.join("\n") + "\n";
  }
  function download(text, name, type) {
    var url = URL.createObjectURL(new Blob([text], { type: type }));
    var a = el("a"); a.href = url; a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  /* ---- similarity search (only when served by `galcat explore --serve`) ---- */
  function searchResults(answer) {
    var box = $("search-results"); box.replaceChildren();
    $("search-status").textContent = answer.query;
    answer.neighbours.forEach(function (n) {
      var row = n.row;
      var item = neighbourItem(n.objid, n.label, n.distance, D.sheets.thumb, R.cell[row], null, row);
      item.className += " item";
      box.appendChild(item);
    });
  }
  function searchFailed(text) { $("search-status").textContent = text; $("search-results").replaceChildren(); }
  function callApi(url, options) {
    $("search-status").textContent = "searching\u2026";
    fetch(url, options).then(function (r) {
      return r.json().then(function (body) { if (!r.ok) throw new Error(body.error || r.statusText); return body; });
    }).then(searchResults).catch(function (e) { searchFailed("error: " + e.message); });
  }
  function setupSearch() {
    if (!/^https?:$/.test(location.protocol)) return;
    fetch("api/info").then(function (r) { return r.ok ? r.json() : null; }).then(function (info) {
      if (!info || !info.search) return;
      $("tab-search").hidden = false;
      $("search-go").addEventListener("click", function () {
        var q = $("search-query").value.trim();
        if (q) callApi("api/similar?q=" + encodeURIComponent(q) + "&k=" + encodeURIComponent($("search-k").value));
      });
      $("search-file").addEventListener("change", function () {
        var f = $("search-file").files[0];
        if (f) callApi("api/similar?k=" + encodeURIComponent($("search-k").value), { method: "POST", body: f, headers: { "Content-Type": f.type || "application/octet-stream" } });
      });
    }).catch(function () { /* a plain static server: no search */ });
  }

  /* ---- wiring ---- */
  function showView(name) {
    ["table", "map", "report", "search"].forEach(function (v) { $("view-" + v).hidden = v !== name; });
    document.querySelectorAll("#tabs button").forEach(function (b) { b.classList.toggle("active", b.dataset.view === name); });
    if (name === "map") drawMap();
  }
  function resetFilters(apply) {
    ["f-pred", "f-true"].forEach(function (id) { $(id).value = "-1"; });
    ["f-entropy", "f-agreement", "f-text"].forEach(function (id) { $(id).value = ""; });
    $("f-mistakes").checked = false;
    if (apply !== false) applyFilters();
  }
  function init() {
    var started = performance.now();
    document.title = M.title;
    $("title").textContent = M.title;
    var notes = $("notes");
    M.notes.forEach(function (n) { notes.appendChild(el("li", null, n)); });
    M.labels.forEach(function (name, code) {
      var a = el("option", null, name); a.value = code; $("f-pred").appendChild(a);
      var b = el("option", null, name); b.value = code; $("f-true").appendChild(b);
    });
    if (!M.true_column) { $("f-true").disabled = true; $("f-mistakes").disabled = true; }
    if (!M.has_entropy) $("f-entropy").disabled = true;
    if (!M.has_agreement) $("f-agreement").disabled = true;
    ["f-pred", "f-true", "f-mistakes"].forEach(function (id) { $(id).addEventListener("change", applyFilters); });
    ["f-entropy", "f-agreement", "f-text"].forEach(function (id) { $(id).addEventListener("input", applyFilters); });
    $("f-reset").addEventListener("click", resetFilters);
    document.querySelectorAll("#galaxies th[data-key]").forEach(function (th) {
      th.addEventListener("click", function () {
        var k = th.dataset.key;
        state.sortDir = state.sortKey === k ? -state.sortDir : 1;
        state.sortKey = k;
        sortView(); state.page = 0; renderTable();
      });
    });
    document.querySelector("#galaxies tbody").addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr");
      if (tr) openGalaxy(Number(tr.dataset.row));
    });
    $("page-prev").addEventListener("click", function () { state.page--; renderTable(); });
    $("page-next").addEventListener("click", function () { state.page++; renderTable(); });
    $("panel-close").addEventListener("click", function () { $("panel").hidden = true; state.selected = -1; });
    document.querySelectorAll("#tabs button").forEach(function (b) { b.addEventListener("click", function () { showView(b.dataset.view); }); });
    $("export-csv").addEventListener("click", function () { download(exportCSV(), "galcat-selection.csv", "text/csv"); });
    $("export-votable").addEventListener("click", function () { download(exportVOTable(), "galcat-selection.vot", "application/x-votable+xml"); });
    if (D.map) {
      $("map-method").textContent = (D.map.method === "tsne" ? "t-SNE" : "PCA") + " of the embedding";
      $("map-colour").addEventListener("change", function () { state.mapColour = $("map-colour").value; drawMap(); });
      $("map").addEventListener("click", mapClick);
    } else $("map-method").textContent = "the catalogue has no embedding column: no map";
    renderReport();
    applyFilters();
    setupSearch();
    window.GALCAT = { state: state, applyFilters: applyFilters, openGalaxy: openGalaxy, exportCSV: exportCSV,
      exportVOTable: exportVOTable, mapPoint: mapPoint, showView: showView, ready: true,
      timings: { init_ms: performance.now() - started, ready_at_ms: performance.now() } };
  }
  init();
})();
