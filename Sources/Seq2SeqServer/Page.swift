/// The page at `GET /`: a text box, a translate button, the output and the cross-attention heatmap
/// of that translation (`POST /attention`, which returns the SVG). Everything is inline: it works
/// offline. `/#q=<sentence>` fills the box and translates at once (links, and the browser test);
/// `/#pair=en-de&q=<sentence>` picks the pair first. With several models a menu picks the pair
/// (from `GET /languages`), sent as `source` and `target`.
enum Page {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>seq2seq translate</title>
    <style>
      body { font-family: "DejaVu Sans", sans-serif; margin: 24px auto; max-width: 980px; padding: 0 16px; color: #222; }
      h1 { font-size: 22px; }
      textarea { width: 100%; box-sizing: border-box; font-size: 16px; padding: 8px; }
      button { font-size: 16px; padding: 6px 18px; margin: 8px 0; }
      #output { font-size: 18px; min-height: 1.5em; padding: 8px; background: #f4f6fb; border-radius: 4px; white-space: pre-wrap; }
      #status { color: #666; font-size: 13px; }
      #heatmap { margin-top: 16px; overflow-x: auto; }
      .error { color: #b00020; }
    </style>
    </head>
    <body>
    <h1>seq2seq translate</h1>
    <p id="pairs" hidden><label for="pair">Language pair</label> <select id="pair"></select></p>
    <label for="source">Source text (one sentence per line)</label>
    <textarea id="source" rows="3" placeholder="Ein Mann fährt Fahrrad."></textarea>
    <button id="translate" type="button">Translate</button>
    <span id="status"></span>
    <div id="output" aria-live="polite"></div>
    <div id="heatmap"></div>
    <script>
    "use strict";
    const $ = (id) => document.getElementById(id);
    async function post(path, body) {
      const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const j = await r.json();
      if (!r.ok) throw new Error(j.error || r.statusText);
      return j;
    }
    // Filled from GET /languages when the server has several pairs.
    const ready = fetch("/languages").then((r) => r.json()).then((languages) => {
      const pairs = languages.flatMap((l) => l.targets.map((t) => [l.code, t]));
      if (pairs.length < 2) return;
      for (const [s, t] of pairs) {
        const o = document.createElement("option");
        o.value = s + "-" + t;
        o.textContent = s + " → " + t;
        $("pair").appendChild(o);
      }
      $("pairs").hidden = false;
    }).catch(() => {});
    function languages() {
      if ($("pairs").hidden) return {};
      const [source, target] = $("pair").value.split("-");
      return { source, target };
    }
    async function translate() {
      await ready;
      const q = $("source").value.replace(/\s+$/, "");
      if (!q) return;
      $("status").textContent = "translating…";
      $("status").className = "";
      $("heatmap").innerHTML = "";
      document.body.dataset.state = "busy";
      const start = performance.now();
      try {
        if (q.includes("\n")) {
          // Several sentences: translate them all; the heatmap is drawn for single sentences.
          const j = await post("/translate", { q, ...languages() });
          $("output").textContent = j.translatedText;
        } else {
          const j = await post("/attention", { q, ...languages() });
          $("output").textContent = j.translatedText;
          // The server renders the SVG and escapes every label in it.
          $("heatmap").innerHTML = j.svg;
        }
        $("status").textContent = "done in " + Math.round(performance.now() - start) + " ms";
        document.body.dataset.state = "done";
      } catch (e) {
        $("status").textContent = "Error: " + e.message;
        $("status").className = "error";
        document.body.dataset.state = "error";
      }
    }
    $("translate").addEventListener("click", translate);
    $("source").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) translate(); });
    const hash = new URLSearchParams(location.hash.slice(1));
    if (hash.has("q")) {
      $("source").value = hash.get("q");
      ready.then(() => {
        if (hash.has("pair")) $("pair").value = hash.get("pair");
        translate();
      });
    }
    </script>
    </body>
    </html>
    """#
}
