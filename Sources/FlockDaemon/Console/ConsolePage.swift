/// The console's one HTML page: a skeleton that `ConsoleScript` fills from the `/v1` API. It
/// holds no data and no inline script or style, so the Content-Security-Policy can forbid both.
enum ConsolePage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>flockd console</title>
        <link rel="stylesheet" href="/ui/console.css">
        <script src="/ui/console.js" defer></script>
        </head>
        <body>
        <header>
          <h1><a href="#/">flockd</a></h1>
          <nav><a href="#/">Pools, hosts and events</a></nav>
          <div id="auth">
            <span id="mode">read-only</span>
            <input id="token-input" type="password" autocomplete="off" placeholder="API token" aria-label="API token">
            <button id="token-save" type="button">Use token</button>
            <button id="token-clear" type="button">Forget token</button>
          </div>
        </header>
        <p id="error" role="alert" hidden></p>
        <p id="updated"></p>
        <main>
        <section id="overview">
          <h2>Pools</h2>
          <table id="pools">
            <thead><tr><th>pool</th><th>serving</th><th>warming</th><th>standby</th><th>draining</th>
            <th>capacity</th><th>policy</th><th>mode</th><th>last decision</th></tr></thead>
            <tbody></tbody>
          </table>
          <h2>Hosts</h2>
          <p id="hosts-none" hidden>No pool places clones on other hosts.</p>
          <table id="hosts">
            <thead><tr><th>host</th><th>state</th><th>VMs</th><th>snapshots held</th><th>pools</th>
            <th>last error</th></tr></thead>
            <tbody></tbody>
          </table>
          <h2>Events</h2>
          <ol id="events" reversed></ol>
        </section>
        <section id="pool-page" hidden>
          <h2>Pool <span id="pool-name"></span></h2>
          <dl id="pool-counts">
            <div><dt>serving</dt><dd id="count-serving"></dd></div>
            <div><dt>warming</dt><dd id="count-warming"></dd></div>
            <div><dt>standby</dt><dd id="count-standby"></dd></div>
            <div><dt>draining</dt><dd id="count-draining"></dd></div>
            <div><dt>capacity</dt><dd id="count-capacity"></dd></div>
            <div><dt>policy</dt><dd id="pool-policy"></dd></div>
            <div><dt>mode</dt><dd id="pool-mode"></dd></div>
          </dl>
          <p>Last decision: <span id="last-decision"></span></p>
          <div id="actions">
            <button id="action-pause" type="button">Pause</button>
            <button id="action-resume" type="button">Resume</button>
            <input id="manual-count" type="number" min="1" step="1" aria-label="manual count">
            <button id="action-set" type="button">Set manual count</button>
            <button id="action-clear" type="button">Clear manual count</button>
          </div>
          <h3>Last hour</h3>
          <div id="chart"></div>
          <h3>Instances</h3>
          <ul id="lineage"></ul>
          <h3>Decisions</h3>
          <label>Show <select id="decision-filter">
            <option value="">every decision</option>
            <option value="scale_out,scale_in">scale-outs and scale-ins</option>
            <option value="scale_out">scale-outs</option>
            <option value="scale_in">scale-ins</option>
            <option value="hold">holds</option>
          </select></label>
          <table id="decisions">
            <thead><tr><th>time</th><th>action</th><th>count</th><th>reason</th></tr></thead>
            <tbody></tbody>
          </table>
          <h3>Policy</h3>
          <p id="policy-versions"></p>
          <pre id="policy-text"></pre>
          <h4>Against the previous version</h4>
          <pre id="policy-diff"></pre>
        </section>
        </main>
        </body>
        </html>

        """#
}
