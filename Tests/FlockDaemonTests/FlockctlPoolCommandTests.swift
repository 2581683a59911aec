import FlockCore
import FlockStore
import FlockTestSupport
import Foundation
import GRDB
import Testing

/// `flockctl status`, `events`, `pause`, `resume` and `scale`, run as the built binary against a
/// scratch store.
@Suite struct FlockctlPoolCommandTests {
    let scratch: Scratch
    let db: String

    init() throws {
        scratch = try Scratch()
        db = scratch.path("flock.db")
    }

    func flockctl(_ arguments: [String]) async throws -> Child.Result {
        let binary = try #require(BuiltBinary.url("flockctl"))
        return try await Child.run(binary, arguments, environment: ["FLOCK_DB": db], in: scratch)
    }

    func applyWeb() async throws {
        let applied = try await flockctl(["policy", "apply", Repo.path("Policies/web.yaml")])
        #expect(applied.status == 0, "\(applied.stderr)")
    }

    @Test func statusShowsCountsAndTheLastDecision() async throws {
        let empty = try await flockctl(["status"])
        #expect(empty.status == 0)
        #expect(empty.stdout.hasPrefix("no pools in \(db)"))

        try await applyWeb()
        let store = try FlockStore(path: db)
        let now = Date()
        try store.upsert(Instance(name: "web-parent", pool: "web", role: .parent, state: .serving, createdAt: now))
        try store.upsert(Instance(name: "flock-web-a1", pool: "web", role: .clone, state: .cloning, createdAt: now))
        try store.upsert(Instance(name: "flock-web-b2", pool: "web", role: .clone, state: .draining, createdAt: now))
        try store.upsert(Instance(name: "flock-web-c3", pool: "web", role: .clone, state: .standby, createdAt: now))
        try store.record(
            Decision(
                pool: "web", time: now, action: .scaleOut, from: 1, to: 2, recommendation: 2,
                reason: "scale out 1 → 2: load wants 2", votes: [], dryRun: false))

        let table = try await flockctl(["status"])
        #expect(table.status == 0)
        let row = table.stdout.split(separator: "\n")[1].split(separator: " ", omittingEmptySubsequences: true)
        #expect(Array(row.prefix(10)) == ["web", "active", "1", "1", "1", "1", "0", "-", "v1", "-"])
        #expect(table.stdout.contains("scale_out 1→2"))
        #expect(table.stdout.contains("web: scale out 1 → 2: load wants 2"))

        let json = try await flockctl(["status", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let pool = try #require((object?["pools"] as? [[String: Any]])?.first)
        #expect(pool["name"] as? String == "web")
        #expect(pool["serving"] as? Int == 1)
        #expect(pool["warming"] as? Int == 1)
        #expect(pool["standby"] as? Int == 1, "a standby is neither serving nor warming")
        #expect(pool["draining"] as? Int == 1)
        #expect(pool["paused"] as? Bool == false)
        #expect((pool["last_decision"] as? [String: Any])?["action"] as? String == "scale_out")
        #expect((pool["last_decision"] as? [String: Any])?["forecast"] is NSNull, "no predictive block: null")
    }

    @Test func statusShowsTheLastForecast() async throws {
        try await applyWeb()
        let store = try FlockStore(path: db)
        let forecast = ForecastNote(
            check: "load", metric: .sessions, leadSeconds: 119.6, value: 412.25, wants: 5, abstained: nil,
            detail: "forecast sessions 412.25 in 2m → would want 5 (forecast_only)")
        try store.record(
            Decision(
                pool: "web", time: Date(), action: .hold, from: 1, to: 1, recommendation: 1,
                reason: "hold at 1: load holds; \(forecast.detail)", votes: [], dryRun: false, forecast: forecast))

        let table = try await flockctl(["status"])
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n")
        #expect(lines[0].contains("FORECAST"))
        #expect(lines[1].contains("412.2 in 2m → 5"), "\(table.stdout)")

        let json = try await flockctl(["status", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let pool = try #require((object?["pools"] as? [[String: Any]])?.first)
        let shown = try #require((pool["last_decision"] as? [String: Any])?["forecast"] as? [String: Any])
        #expect(shown["check"] as? String == "load")
        #expect(shown["metric"] as? String == "sessions")
        #expect(shown["value"] as? Double == 412.25)
        #expect(shown["wants"] as? Int == 5)
        #expect(shown["lead_s"] as? Double == 119.6)
        #expect(shown["announce"] == nil, "the engine's event flag is not part of the API")

        try store.record(
            Decision(
                pool: "web", time: Date().addingTimeInterval(1), action: .hold, from: 1, to: 1, recommendation: 1,
                reason: "hold", votes: [], dryRun: false,
                forecast: ForecastNote(
                    check: "load", metric: .sessions, leadSeconds: 120, value: nil, wants: nil,
                    abstained: "less than one season of history", detail: "forecast of sessions abstains")))
        #expect(try await flockctl(["status"]).stdout.split(separator: "\n")[1].contains("abstains"))
    }

    @Test func pauseResumeAndScaleWriteTheStore() async throws {
        try await applyWeb()
        let store = try FlockStore(path: db)

        let paused = try await flockctl(["pause", "web"])
        #expect(paused.status == 0)
        #expect(try store.pool(named: "web")?.paused == true)
        #expect(try await flockctl(["status"]).stdout.contains("paused"))

        #expect(try await flockctl(["resume", "web"]).status == 0)
        #expect(try store.pool(named: "web")?.paused == false)

        let scaled = try await flockctl(["scale", "web", "--to", "20"])
        #expect(scaled.status == 0)
        #expect(scaled.stdout.contains("clamps it to 16"))
        #expect(try store.pool(named: "web")?.manualDesired == 20)

        #expect(try await flockctl(["scale", "web", "--clear"]).status == 0)
        #expect(try store.pool(named: "web")?.manualDesired == nil)
    }

    @Test func badCountsAreUsageErrorsAndUnknownPoolsFail() async throws {
        try await applyWeb()
        for arguments in [["scale", "web", "--to", "0"], ["scale", "web"], ["scale", "web", "--to", "2", "--clear"]] {
            let result = try await flockctl(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains("hint: run 'flockctl scale --help' for usage"))
        }
        #expect(try FlockStore(path: db).pool(named: "web")?.manualDesired == nil)
        for arguments in [
            ["pause", "nope"], ["resume", "nope"], ["scale", "nope", "--to", "2"], ["events", "--pool", "nope"],
        ] {
            let result = try await flockctl(arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.contains("no pool 'nope' in the store"), "\(arguments): \(result.stderr)")
        }
    }

    @Test func eventsListsAndFollows() async throws {
        try await applyWeb()
        let store = try FlockStore(path: db)
        try store.record(Event(time: Date(), pool: "web", kind: .failure, message: "first failure"))
        try store.record(Event(time: Date(), pool: "other", kind: .instance, message: "other pool"))

        let listed = try await flockctl(["events", "--pool", "web"])
        #expect(listed.status == 0)
        #expect(listed.stdout.contains("web  failure  first failure"))
        #expect(!listed.stdout.contains("other pool"))

        let binary = try #require(BuiltBinary.url("flockctl"))
        let follower = try await Child.start(
            binary, ["events", "--follow", "--json", "--pool", "web", "--interval", "100ms"],
            environment: ["FLOCK_DB": db],
            in: scratch, name: "follow")
        #expect(try await eventually { follower.stdout.contains("first failure") })
        try store.record(Event(time: Date(), pool: "web", kind: .instance, message: "a later event"))
        #expect(try await eventually { follower.stdout.contains("a later event") })
        let lines = follower.stdout.split(separator: "\n")
        let last = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any]
        #expect(last?["kind"] as? String == "instance")
        #expect(last?["pool"] as? String == "web")
        follower.signal(SIGINT)
        #expect(await follower.waitForExit(timeout: .seconds(10)) != nil)
    }

    /// Guest-written text in an event reaches the terminal escaped: recorded through the store
    /// today, or stored raw by an older flockd.
    @Test func eventsPrintControlCharactersEscaped() async throws {
        try await applyWeb()
        let store = try FlockStore(path: db)
        let guest = "console: \u{1B}[2J\u{1B}]0;owned\u{7} NUL\u{0} end"
        let escaped = "console: \\u001b[2J\\u001b]0;owned\\u0007 NUL\\u0000 end"
        try store.record(Event(time: Date(), pool: "web", kind: .failure, message: guest))
        #expect(try store.recentEvents(pool: "web", limit: 1).first?.event.message == escaped)
        let old = try DatabaseQueue(path: db)
        try await old.write { db in
            try db.execute(
                sql: "INSERT INTO event (time, pool, kind, message) VALUES (?, 'web', 'instance', ?)",
                arguments: [Date().timeIntervalSince1970, "old \u{1B}[31mred\u{9B}"])
        }
        try old.close()

        let listed = try await flockctl(["events", "--pool", "web"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("web  failure  \(escaped)"), "\(listed.stdout)")
        #expect(listed.stdout.contains("web  instance  old \\u001b[31mred\\u009b"), "\(listed.stdout)")
        #expect(!listed.stdout.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "\(listed.stdout)")
        let json = try await flockctl(["events", "--pool", "web", "--json"])
        let messages = json.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["message"] as? String
        }
        #expect(messages.suffix(2) == [escaped, "old \\u001b[31mred\\u009b"], "\(json.stdout)")
    }
}
