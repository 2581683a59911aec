import FlockCore
import FlockStore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

/// The console at `/ui` in Debian's headless Chromium (through chromedriver's WebDriver
/// protocol), against the built flockd on a real HAProxy and a real store. No VM boots: the QEMU
/// driver has no parent VM, so a clone a decision asks for fails, which the page shows too.
@Suite(.serialized) struct ConsoleBrowserTests {
    static let token = "console-token-0123456789"

    /// flockd, its HAProxy and its store, for one test.
    struct Daemon {
        let scratch: Scratch
        let haproxy: TestHAProxy
        let flockd: Child
        let port: Int
        let store: FlockStore

        var ui: String { "http://127.0.0.1:\(port)/ui" }

        /// One pool `web` (max 2) ticking every 3 s: slower than the page's 2 s poll, so that the
        /// page catches up with the store between ticks.
        init() async throws {
            scratch = try Scratch(prefix: "flock-console")
            haproxy = try await TestHAProxy(in: scratch)
            let config = try scratch.daemonConfig(haproxy: haproxy, max: 2, interval: "3s")
            port = try freeLoopbackPort()
            flockd = try await Child.start(
                try #require(BuiltBinary.url("flockd"), "flockd not built next to the test runner nor in .build/debug"),
                ["--config", config],
                environment: ["FLOCKD_LISTEN": "127.0.0.1:\(port)", "FLOCKD_API_TOKEN": ConsoleBrowserTests.token],
                in: scratch, name: "flockd")
            let port = port
            let healthy = await eventually { (try? await HTTP.request("GET", port: port, "/healthz"))?.status == 200 }
            try #require(healthy, "flockd did not answer /healthz: \(flockd.stderr)")
            store = try FlockStore(path: scratch.path("state/flock.db"))
            let store = store
            try #require(try await eventually { try !store.decisions(pool: "web", since: .distantPast).isEmpty })
        }

        func api(_ path: String) async throws -> [String: Any] {
            try #require(try await HTTP.request("GET", port: port, path).json, "\(path) gave no JSON object")
        }
    }

    @Test func thePoolPageShowsTheAPIsCountsADecisionWithItsReasonAndEverySample() async throws {
        let daemon = try await Daemon()
        // A decision made during the test: an operator's count of 2 scales out 1 → 2.
        let set = try await HTTP.request(
            "PUT", port: daemon.port, "/v1/pools/web/desired", token: Self.token, body: "{\"count\": 2}")
        #expect(set.status == 200, "\(set)")
        let decided = try await eventually {
            try daemon.store.decisions(pool: "web", since: .distantPast, actions: [.scaleOut]).first != nil
        }
        try #require(decided, "no scale-out decision: \(daemon.flockd.stderr)")
        let decision = try #require(
            try daemon.store.decisions(pool: "web", since: .distantPast, actions: [.scaleOut]).first)
        #expect(decision.reason.contains("manual desired count 2"), "\(decision.reason)")

        try await WebDriver.with(in: daemon.scratch) { browser in
            try await browser.navigate(daemon.ui + "#/pool/web")
            #expect(try await browser.wait(until: "return document.body.dataset.loaded === 'true'"))

            // Every count the page shows is the API's (read again until both agree on one moment).
            let fields = ["serving", "warming", "standby", "draining"]
            let agree = try await eventually(timeout: .seconds(20), every: .milliseconds(300)) {
                let pool = try await daemon.api("/v1/pools/web")
                for field in fields {
                    guard try await browser.text("#count-\(field)") == String(pool[field] as? Int ?? -1) else {
                        return false
                    }
                }
                let capacity = pool["capacity"] as? [String: Int]
                return try await browser.text("#count-capacity")
                    == "\(capacity?["min"] ?? -1)–\(capacity?["max"] ?? -1)"
            }
            let counts = try await browser.text("#pool-counts")
            let pool = try await daemon.api("/v1/pools/web")
            #expect(agree, "page \(counts) vs API \(pool)")
            #expect(try await browser.text("#pool-mode") == "manual 2")

            // The decision, with its reason, in the log filtered to scale-outs, and on the chart.
            try await browser.click("#decision-filter option[value='scale_out']")
            let logged = try await eventually(timeout: .seconds(10), every: .milliseconds(200)) {
                let rows = try await browser.execute(
                    "return [...document.querySelectorAll('#decisions tbody tr')].map(r => r.textContent)",
                    as: [String].self)
                return !rows.isEmpty && rows.allSatisfy { $0.contains("scale_out") }
                    && rows.contains { $0.contains(decision.reason) }
            }
            let shownLog = try await browser.text("#decisions")
            #expect(logged, "the log lacks '\(decision.reason)': \(shownLog)")
            let marker = try await browser.execute(
                "return [...document.querySelectorAll('#chart g.decision.scale_out title')].map(t => t.textContent)",
                as: [String].self)
            #expect(marker.contains { $0.contains(decision.reason) }, "\(marker)")

            // One serving point per distinct sample time the store holds for the hour.
            var shown = -1, stored = -2
            let complete = try await eventually(timeout: .seconds(20), every: .milliseconds(200)) {
                stored =
                    Set(try daemon.store.samples(pool: "web", since: Date().addingTimeInterval(-3600)).map(\.time))
                    .count
                shown = try await browser.execute(
                    "const l = document.querySelector('#chart polyline.serving'); return l ? l.points.numberOfItems : -1",
                    as: Int.self)
                return shown == stored
            }
            #expect(complete && stored > 0, "the chart has \(shown) serving points, the store \(stored) sample times")
            let metrics = try await browser.execute(
                "return [...document.querySelectorAll('#chart polyline.metric')].map(l => l.dataset.metric)",
                as: [String].self)
            #expect(metrics == ["sessions_per_server"], "\(metrics)")
            #expect(
                try await browser.execute("return document.querySelectorAll('#chart line.target').length", as: Int.self)
                    == 1)
            // The lineage lists the parent with its host.
            #expect(try await browser.text("#lineage").contains("web-parent · local · serving"))
            #expect(try await browser.text("#policy-text").contains("pool: web"))
        }
        withExtendedLifetime(daemon) {}
    }

    @Test func pauseIsRefusedOnThePageWithoutTheTokenAndWorksWithIt() async throws {
        let daemon = try await Daemon()
        try await WebDriver.with(in: daemon.scratch) { browser in
            try await browser.navigate(daemon.ui + "#/pool/web")
            #expect(try await browser.wait(until: "return document.body.dataset.loaded === 'true'"))
            #expect(try await browser.text("#mode").hasPrefix("read-only"))

            try await browser.click("#action-pause")
            let refused = try await browser.wait(
                until: "return !document.getElementById('error').hidden")
            let error = try await browser.text("#error")
            #expect(refused && error == "pause refused (HTTP 401): this endpoint needs 'Authorization: Bearer <token>'")
            #expect(try daemon.store.pool(named: "web")?.paused == false)

            // A wrong token is refused the same way, with the API's own words.
            try await browser.type("wrong-token-0123456789", into: "#token-input")
            try await browser.click("#token-save")
            try await browser.click("#action-pause")
            let wrong = try await browser.wait(
                until: "return document.getElementById('error').textContent.includes(\"not flockd's api_token\")")
            let wrongError = try await browser.text("#error")
            #expect(wrong, "\(wrongError)")
            #expect(try daemon.store.pool(named: "web")?.paused == false)

            try await browser.click("#token-clear")
            try await browser.type(Self.token, into: "#token-input")
            try await browser.click("#token-save")
            #expect(try await browser.text("#mode").hasPrefix("token set"))
            try await browser.click("#action-pause")
            let paused = try await eventually { try daemon.store.pool(named: "web")?.paused == true }
            let pauseError = try await browser.text("#error")
            #expect(paused, "the store is not paused: \(pauseError)")
            #expect(
                try await browser.wait(until: "return document.getElementById('pool-mode').textContent === 'paused'"))
            #expect(try await browser.execute("return document.getElementById('error').hidden", as: Bool.self))
            // The token stays in this tab's session storage only, never in a cookie.
            #expect(try await browser.execute("return document.cookie", as: String.self) == "")
        }
        withExtendedLifetime(daemon) {}
    }

    @Test func aHostileEventMessageRendersAsText() async throws {
        let daemon = try await Daemon()
        let hostile = "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script><b>bold</b>"
        try daemon.store.record(Event(time: Date(), pool: "web", kind: .instance, message: hostile))
        try await WebDriver.with(in: daemon.scratch) { browser in
            try await browser.navigate(daemon.ui)
            let shown = try await browser.wait(
                until:
                    "return [...document.querySelectorAll('#events .message')].some(m => m.textContent.includes('<script>'))"
            )
            let events = try await browser.text("#events")
            #expect(shown, "\(events)")
            let texts = try await browser.execute(
                "return [...document.querySelectorAll('#events .message')].map(m => m.textContent)", as: [String].self)
            #expect(texts.contains(hostile), "\(texts)")
            #expect(
                try await browser.execute(
                    "return document.querySelectorAll('#events img, #events script, #events b, body img').length",
                    as: Int.self) == 0)
            #expect(try await browser.execute("return typeof window.pwned", as: String.self) == "undefined")
            // The pools table shows the pool the API lists.
            #expect(try await browser.text("#pools tbody tr[data-pool='web'] td.serving") == "1")
        }
        withExtendedLifetime(daemon) {}
    }
}
