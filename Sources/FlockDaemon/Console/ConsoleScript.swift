/// The console's script. It polls the `/v1` API every two seconds and draws what it reads with
/// DOM calls only: text goes in through `textContent` and text nodes, never as markup, so an
/// event message such as `<img src=x onerror=…>` shows as those characters. The API token lives in
/// `sessionStorage` (gone with the browser session) and travels only as an `Authorization`
/// header on the mutating requests.
enum ConsoleScript {
    static let source = #"""
        "use strict";
        (function () {
          const SVG = "http://www.w3.org/2000/svg";
          const TOKEN_KEY = "flockd-api-token";
          const POLL_MS = 2000;
          const EVENTS_KEPT = 200;
          let lastEventId = null;
          let timer = null;

          function $(id) { return document.getElementById(id); }

          // An element with attributes and children; strings become text nodes, never markup.
          function el(tag, attrs, ...children) {
            const node = document.createElement(tag);
            for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
            for (const child of children) node.append(typeof child === "string" ? document.createTextNode(child) : child);
            return node;
          }
          function svg(tag, attrs, text) {
            const node = document.createElementNS(SVG, tag);
            for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
            if (text !== undefined) node.textContent = text;
            return node;
          }
          function clear(node) { node.replaceChildren(); }

          function token() { return sessionStorage.getItem(TOKEN_KEY); }
          function showMode() {
            $("mode").textContent = token()
              ? "token set for this browser session: actions enabled"
              : "read-only: enter the API token to pause, resume or scale";
            document.body.classList.toggle("read-only", !token());
          }
          function showError(text) {
            const box = $("error");
            box.textContent = text;
            box.hidden = !text;
          }

          async function api(method, path, body) {
            const headers = {};
            const t = token();
            if (t && method !== "GET") headers["Authorization"] = "Bearer " + t;
            if (body !== undefined) headers["Content-Type"] = "application/json";
            const response = await fetch(path, {
              method, headers, credentials: "omit", cache: "no-store",
              body: body === undefined ? undefined : JSON.stringify(body),
            });
            let data = null;
            try { data = await response.json(); } catch (e) { data = null; }
            if (!response.ok) {
              const message = data && typeof data.error === "string" ? data.error : response.statusText;
              const error = new Error(message);
              error.status = response.status;
              throw error;
            }
            return data;
          }

          function when(iso) { return iso ? new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "-"; }
          function age(iso) {
            const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
            if (seconds < 120) return seconds + "s";
            if (seconds < 7200) return Math.round(seconds / 60) + "m";
            return Math.round(seconds / 3600) + "h";
          }
          function modeOf(pool) {
            if (pool.paused) return "paused";
            if (pool.manual_desired !== null && pool.manual_desired !== undefined) return "manual " + pool.manual_desired;
            return "policy";
          }
          function decisionText(d) {
            if (!d) return "none yet";
            return d.action + " " + d.from + " → " + d.to + (d.dry_run ? " (dry run)" : "") + ": " + d.reason;
          }
          function policyText(pool) {
            const running = pool.running_policy_version;
            const stored = pool.policy_version;
            return "v" + (running ?? "-") + (stored !== running ? " (store has v" + (stored ?? "-") + ")" : "");
          }
          function poolFromHash() {
            const match = /^#\/pool\/(.+)$/.exec(location.hash);
            return match ? decodeURIComponent(match[1]) : null;
          }
          function poolPath(name) { return "/v1/pools/" + encodeURIComponent(name); }

          // MARK: overview

          async function drawOverview() {
            const [list, hosts] = await Promise.all([api("GET", "/v1/pools"), api("GET", "/v1/hosts")]);
            const body = $("pools").tBodies[0];
            clear(body);
            for (const pool of list.pools) {
              const link = el("a", { href: "#/pool/" + encodeURIComponent(pool.name) }, pool.name);
              body.append(el("tr", { "data-pool": pool.name },
                el("td", {}, link), el("td", { class: "serving" }, String(pool.serving)),
                el("td", {}, String(pool.warming)), el("td", {}, String(pool.standby)),
                el("td", {}, String(pool.draining)),
                el("td", {}, pool.capacity.min + "–" + pool.capacity.max),
                el("td", {}, policyText(pool)), el("td", {}, modeOf(pool)),
                el("td", { class: "reason" }, decisionText(pool.last_decision))));
            }
            const hostBody = $("hosts").tBodies[0];
            clear(hostBody);
            $("hosts-none").hidden = hosts.hosts.length > 0;
            for (const host of hosts.hosts) {
              const state = host.lost ? "lost: " + host.lost : host.reachable ? "up" : "unreachable";
              hostBody.append(el("tr", { "data-host": host.name },
                el("td", {}, host.name), el("td", {}, state),
                el("td", {}, host.vms === null || host.vms === undefined ? "-" : String(host.vms)),
                el("td", {}, host.snapshots.join(", ") || "-"), el("td", {}, host.pools.join(", ")),
                el("td", {}, host.last_error || "")));
            }
          }

          async function followEvents() {
            const path = "/v1/events" + (lastEventId === null ? "?limit=100" : "?since=" + lastEventId + "&limit=500");
            const list = await api("GET", path);
            const box = $("events");
            for (const event of list.events) {
              box.prepend(el("li", { "data-id": String(event.id) },
                el("time", {}, when(event.time)), " ", el("span", { class: "kind" }, event.kind), " ",
                el("span", { class: "pool" }, event.pool || "-"), " ",
                el("span", { class: "message" }, event.message)));
            }
            while (box.children.length > EVENTS_KEPT) box.lastElementChild.remove();
            if (list.last_id !== null && list.last_id !== undefined) lastEventId = list.last_id;
          }

          // MARK: a pool's page

          async function drawPool(name) {
            const filter = $("decision-filter").value;
            const [pool, instances, samples, markers, log, policy] = await Promise.all([
              api("GET", poolPath(name)),
              api("GET", poolPath(name) + "/instances"),
              api("GET", poolPath(name) + "/samples?since=1h"),
              api("GET", poolPath(name) + "/decisions?since=1h&action=scale_out,scale_in"),
              api("GET", poolPath(name) + "/decisions?since=1h&limit=200" + (filter ? "&action=" + filter : "")),
              api("GET", poolPath(name) + "/policy"),
            ]);
            $("pool-name").textContent = pool.name;
            $("count-serving").textContent = String(pool.serving);
            $("count-warming").textContent = String(pool.warming);
            $("count-standby").textContent = String(pool.standby);
            $("count-draining").textContent = String(pool.draining);
            $("count-capacity").textContent = pool.capacity.min + "–" + pool.capacity.max;
            $("pool-policy").textContent = policyText(pool);
            $("pool-mode").textContent = modeOf(pool);
            $("last-decision").textContent = decisionText(pool.last_decision);
            drawChart(samples, markers.decisions, policy.checks);
            drawLineage(instances.instances);
            drawDecisions(log.decisions);
            drawPolicy(policy);
          }

          function drawChart(samples, decisions, checks) {
            const W = 960, H = 300, L = 56, R = 56, T = 16, B = 40;
            // The hour, or less while the store holds less: a young pool's data fills the width.
            const now = Date.now();
            const firstTimes = [samples.samples[0], samples.serving[0], decisions[0]].filter((p) => p).map((p) => Date.parse(p.time));
            const start = Math.max(Date.parse(samples.since), Math.min(now - 60000, ...firstTimes));
            const x = (t) => L + (W - L - R) * Math.min(1, Math.max(0, (t - start) / Math.max(1, now - start)));
            const charted = new Set(checks.map((c) => c.metric));
            const series = new Map();
            for (const s of samples.samples) {
              if (charted.size && !charted.has(s.metric)) continue;
              if (!series.has(s.metric)) series.set(s.metric, []);
              if (s.value !== null && s.value !== undefined) series.get(s.metric).push([Date.parse(s.time), s.value]);
            }
            let top = 1;
            for (const points of series.values()) for (const [, v] of points) top = Math.max(top, v);
            for (const c of checks) for (const v of [c.target, c.above, c.below]) if (typeof v === "number") top = Math.max(top, v);
            top *= 1.1;
            const y = (v) => T + (H - T - B) * (1 - v / top);
            let servingTop = 1;
            for (const p of samples.serving) servingTop = Math.max(servingTop, p.count);
            servingTop += 1;
            const ys = (n) => T + (H - T - B) * (1 - n / servingTop);

            const chart = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img" });
            chart.append(svg("title", {}, "the last hour: metrics, targets, serving instances and decisions"));
            chart.append(svg("rect", { class: "frame", x: L, y: T, width: W - L - R, height: H - T - B }));
            chart.append(svg("text", { class: "axis", x: L - 6, y: T + 10, "text-anchor": "end" }, top.toFixed(1)));
            chart.append(svg("text", { class: "axis", x: L - 6, y: H - B, "text-anchor": "end" }, "0"));
            chart.append(svg("text", { class: "axis serving-axis", x: W - R + 6, y: T + 10 }, servingTop + " VMs"));
            chart.append(svg("text", { class: "axis", x: L, y: H - B + 16 }, when(new Date(start).toISOString())));
            chart.append(svg("text", { class: "axis", x: W - R, y: H - B + 16, "text-anchor": "end" }, "now"));

            checks.forEach((c) => {
              for (const [kind, v] of [["target", c.target], ["above", c.above], ["below", c.below]]) {
                if (typeof v !== "number") continue;
                const line = svg("line", { class: "target", x1: L, x2: W - R, y1: y(v), y2: y(v) });
                line.append(svg("title", {}, c.name + ": " + kind + " " + v + " (" + c.metric + ")"));
                chart.append(line);
              }
            });
            let index = 0;
            const legend = [];
            for (const [metric, points] of series) {
              const line = svg("polyline", {
                class: "metric metric-" + (index % 4), "data-metric": metric,
                points: points.map(([t, v]) => x(t).toFixed(1) + "," + y(v).toFixed(1)).join(" "),
              });
              line.append(svg("title", {}, metric));
              chart.append(line);
              legend.push(["metric-" + (index % 4), metric]);
              index += 1;
            }
            const serving = svg("polyline", {
              class: "serving", "data-count": samples.serving.length,
              points: samples.serving.map((p) => x(Date.parse(p.time)).toFixed(1) + "," + ys(p.count).toFixed(1)).join(" "),
            });
            serving.append(svg("title", {}, "serving instances"));
            chart.append(serving);
            legend.push(["serving", "serving instances (right axis)"]);
            for (const d of decisions) {
              const at = x(Date.parse(d.time));
              const marker = svg("g", { class: "decision " + d.action });
              marker.append(svg("line", { x1: at, x2: at, y1: T, y2: H - B }));
              marker.append(svg("circle", { cx: at, cy: T + 6, r: 5 }));
              marker.append(svg("title", {}, when(d.time) + " " + decisionText(d)));
              chart.append(marker);
            }
            legend.forEach(([cls, label], i) => {
              chart.append(svg("rect", { class: "swatch " + cls, x: L + i * 200, y: H - 14, width: 12, height: 4 }));
              chart.append(svg("text", { class: "axis", x: L + i * 200 + 16, y: H - 10 }, label));
            });
            const box = $("chart");
            clear(box);
            box.append(chart);
            if (samples.truncated) box.append(el("p", {}, "Only the newest samples of the hour are drawn."));
          }

          function drawLineage(instances) {
            const box = $("lineage");
            clear(box);
            const describe = (i) => el("span", { class: "instance state-" + i.state, "data-instance": i.name },
              i.name + " · " + (i.host || "host unknown") + " · " + i.state + " · " +
              (i.address ? i.address + (i.port ? ":" + i.port : "") : "no address") + " · " + age(i.created_at) +
              (i.failure ? " · " + i.failure : ""));
            const parents = instances.filter((i) => i.role === "parent");
            const clones = instances.filter((i) => i.role !== "parent");
            const known = new Set(parents.map((p) => p.name));
            const orphans = clones.filter((c) => !known.has(c.parent));
            for (const parent of parents) {
              const bySnapshot = new Map();
              for (const c of clones.filter((c) => c.parent === parent.name)) {
                const key = c.snapshot || "(no snapshot recorded)";
                if (!bySnapshot.has(key)) bySnapshot.set(key, []);
                bySnapshot.get(key).push(c);
              }
              const snapshots = el("ul", {});
              for (const [snapshot, members] of bySnapshot) {
                snapshots.append(el("li", { class: "snapshot" }, "snapshot " + snapshot,
                  el("ul", {}, ...members.map((c) => el("li", {}, describe(c))))));
              }
              box.append(el("li", { class: "parent" }, describe(parent), snapshots));
            }
            for (const c of orphans) box.append(el("li", {}, describe(c)));
          }

          function drawDecisions(decisions) {
            const body = $("decisions").tBodies[0];
            clear(body);
            for (const d of decisions.slice().reverse()) {
              body.append(el("tr", { class: d.action },
                el("td", {}, when(d.time)), el("td", {}, d.action + (d.dry_run ? " (dry run)" : "")),
                el("td", {}, d.from + " → " + d.to), el("td", { class: "reason" }, d.reason)));
            }
          }

          // A line diff by longest common subsequence: small enough for policy files.
          function diffLines(before, after) {
            const a = before.split("\n"), b = after.split("\n");
            const n = a.length, m = b.length;
            const lcs = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
            for (let i = n - 1; i >= 0; i--)
              for (let j = m - 1; j >= 0; j--)
                lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
            const out = [];
            let i = 0, j = 0;
            while (i < n && j < m) {
              if (a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
              else if (lcs[i + 1][j] >= lcs[i][j + 1]) { out.push(["-", a[i]]); i++; }
              else { out.push(["+", b[j]]); j++; }
            }
            while (i < n) out.push(["-", a[i++]]);
            while (j < m) out.push(["+", b[j++]]);
            return out;
          }

          function drawPolicy(policy) {
            const current = policy.current;
            $("policy-versions").textContent = current
              ? "v" + current.version + ", applied " + when(current.applied_at) + " by " + current.applied_by +
                (current.note ? " (" + current.note + ")" : "") + "; versions: " +
                policy.versions.map((v) => "v" + v.version).join(", ")
              : "no policy version stored";
            $("policy-text").textContent = current ? current.source : "";
            const box = $("policy-diff");
            clear(box);
            if (!current || !policy.previous) {
              box.textContent = "no previous version";
              return;
            }
            for (const [sign, line] of diffLines(policy.previous.source, current.source)) {
              const cls = sign === "+" ? "added" : sign === "-" ? "removed" : "same";
              box.append(el("span", { class: cls }, sign + " " + line + "\n"));
            }
          }

          // MARK: actions

          async function act(label, method, path, body) {
            const name = poolFromHash();
            if (!name) return;
            try {
              await api(method, poolPath(name) + path, body);
              showError("");
              await refresh();
            } catch (error) {
              showError(label + " refused" + (error.status ? " (HTTP " + error.status + ")" : "") + ": " + error.message);
            }
          }

          async function refresh() {
            const name = poolFromHash();
            $("overview").hidden = name !== null;
            $("pool-page").hidden = name === null;
            try {
              if (name === null) {
                await drawOverview();
                await followEvents();
              } else {
                await drawPool(name);
              }
              $("updated").textContent = "updated " + when(new Date().toISOString());
              document.body.dataset.loaded = "true";
            } catch (error) {
              $("updated").textContent = "could not reach flockd: " + error.message;
            }
          }

          function schedule() {
            clearTimeout(timer);
            refresh().finally(() => { timer = setTimeout(schedule, POLL_MS); });
          }

          document.addEventListener("DOMContentLoaded", () => {
            showMode();
            $("token-save").addEventListener("click", () => {
              const value = $("token-input").value.trim();
              if (value) sessionStorage.setItem(TOKEN_KEY, value);
              $("token-input").value = "";
              showMode();
            });
            $("token-clear").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showMode(); });
            $("action-pause").addEventListener("click", () => act("pause", "POST", "/pause"));
            $("action-resume").addEventListener("click", () => act("resume", "POST", "/resume"));
            $("action-set").addEventListener("click", () => {
              const count = Number($("manual-count").value);
              act("manual count", "PUT", "/desired", { count: Number.isInteger(count) ? count : $("manual-count").value });
            });
            $("action-clear").addEventListener("click", () => act("clearing the manual count", "PUT", "/desired", { count: null }));
            $("decision-filter").addEventListener("change", schedule);
            window.addEventListener("hashchange", () => { showError(""); schedule(); });
            schedule();
          });
        })();

        """#
}
