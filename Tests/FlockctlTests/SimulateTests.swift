import FlockTestSupport
import Foundation
import Testing

/// One JSON change line of `flockctl simulate --format json`.
struct ChangeLine {
    var time: Double
    var action: String
    var from: Int
    var to: Int
    var reason: String
}

struct SimulationSummary: Equatable {
    /// Parses one summary object of `--format json`, which has exactly these six keys.
    init?(_ s: [String: Any]) {
        func int(_ key: String) -> Int? { (s[key] as? NSNumber)?.intValue }
        guard
            Set(s.keys) == [
                "scale_outs", "scale_ins", "max_serving", "min_serving", "under_provisioned_s", "instance_s",
            ],
            let outs = int("scale_outs"), let ins = int("scale_ins"), let maxS = int("max_serving"),
            let minS = int("min_serving"), let under = int("under_provisioned_s"), let instances = int("instance_s")
        else { return nil }
        (scaleOuts, scaleIns, maxServing, minServing) = (outs, ins, maxS, minS)
        (underProvisionedSeconds, instanceSeconds) = (under, instances)
    }

    var scaleOuts: Int
    var scaleIns: Int
    var maxServing: Int
    var minServing: Int
    var underProvisionedSeconds: Int
    var instanceSeconds: Int
}

@Suite("flockctl simulate on the bundled load step")
struct SimulateTests {
    /// web.yaml's scale-in settings: cooldown 30s, stabilization 60s, max_step 1.
    static let scaleInCooldown = 30.0
    /// The load step in load-step.csv: roughly 17 sessions, then about 120 from t=60 to t=179.
    static let stepStart = 60.0, stepEnd = 180.0

    private func simulateJSON(_ sandbox: Scratch) async throws -> (CLIResult, [[String: Any]]) {
        let result = try await sandbox.run([
            "simulate", "--policy", Repo.policy("web"), "--metrics", Repo.loadStep, "--format", "json",
        ])
        var objects: [[String: Any]] = []
        for line in result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let parsed = try? JSONSerialization.jsonObject(with: Data(line.utf8))
            #expect(parsed is [String: Any], "not a JSON object: \(line)")
            if let object = parsed as? [String: Any] { objects.append(object) }
        }
        return (result, objects)
    }

    private func parseChanges(_ objects: [[String: Any]]) -> [ChangeLine] {
        objects.dropLast().compactMap { o in
            guard let time = (o["time_s"] as? NSNumber)?.doubleValue, let action = o["action"] as? String,
                let from = (o["from"] as? NSNumber)?.intValue, let to = (o["to"] as? NSNumber)?.intValue,
                let reason = o["reason"] as? String
            else { return nil }
            return ChangeLine(time: time, action: action, from: from, to: to, reason: reason)
        }
    }

    private func parseSummary(_ objects: [[String: Any]]) -> SimulationSummary? {
        (objects.last?["summary"] as? [String: Any]).flatMap(SimulationSummary.init)
    }

    @Test("json output is one object per line: changes with five keys, then a summary")
    func jsonShape() async throws {
        let sandbox = try Scratch()
        let (result, objects) = try await simulateJSON(sandbox)
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        #expect(result.stdout.hasSuffix("\n"))
        #expect(objects.count == result.stdoutLines.count, "every line must parse")
        #expect(objects.count >= 2, "\(result)")
        for object in objects.dropLast() {
            #expect(Set(object.keys) == ["time_s", "action", "from", "to", "reason"], "\(object)")
        }
        #expect(parseChanges(objects).count == objects.count - 1, "a change line has a wrong type\n\(result)")
        #expect(objects.last.map { Set($0.keys) } == ["summary"], "\(result)")
        #expect(parseSummary(objects) != nil, "\(result)")
    }

    @Test("the summary agrees with the change lines")
    func summaryConsistent() async throws {
        let sandbox = try Scratch()
        let (result, objects) = try await simulateJSON(sandbox)
        let changes = parseChanges(objects)
        let summary = try #require(parseSummary(objects), "\(result)")
        #expect(Set(changes.map(\.action)).isSubset(of: ["scale_out", "scale_in"]), "\(result)")
        #expect(summary.scaleOuts == changes.filter { $0.action == "scale_out" }.count, "\(result)")
        #expect(summary.scaleIns == changes.filter { $0.action == "scale_in" }.count, "\(result)")
        let start = 1  // web.yaml's capacity.min
        let counts = [start] + changes.map(\.to)
        #expect(summary.maxServing == counts.max(), "\(result)")
        #expect(summary.minServing == counts.min(), "\(result)")
        #expect(changes.first?.from == start, "\(result)")
    }

    @Test("each change starts where the previous one ended, and moves in its direction")
    func chain() async throws {
        let sandbox = try Scratch()
        let changes = parseChanges(try await simulateJSON(sandbox).1)
        #expect(!changes.isEmpty)
        for (previous, next) in zip(changes, changes.dropFirst()) {
            #expect(next.from == previous.to, "\(previous) → \(next)")
            #expect(next.time > previous.time, "\(previous) → \(next)")
        }
        for change in changes {
            #expect(change.action == "scale_out" ? change.to > change.from : change.to < change.from, "\(change)")
            #expect((1...16).contains(change.to), "outside web.yaml's capacity: \(change)")
            #expect(change.reason.contains("\(change.from) → \(change.to)"), "\(change)")
        }
    }

    @Test("the policy scales out during the load step and only scales in after it")
    func followsTheLoad() async throws {
        let sandbox = try Scratch()
        let changes = parseChanges(try await simulateJSON(sandbox).1)
        let outs = changes.filter { $0.action == "scale_out" }
        let ins = changes.filter { $0.action == "scale_in" }
        #expect(outs.contains { (Self.stepStart..<Self.stepEnd).contains($0.time) }, "\(outs)")
        #expect(outs.allSatisfy { $0.time >= Self.stepStart }, "scaled out before the load arrived: \(outs)")
        #expect(ins.allSatisfy { $0.time >= Self.stepEnd }, "scaled in during the load: \(ins)")
        // Capacity during the step is enough for ~120 sessions at 20 per server (±10%).
        let peak = outs.map(\.to).max() ?? 0
        #expect(peak >= 6, "\(outs)")
    }

    @Test("scale-in waits, then removes one instance at a time, at least a cooldown apart")
    func stepwiseScaleIn() async throws {
        let sandbox = try Scratch()
        let ins = parseChanges(try await simulateJSON(sandbox).1).filter { $0.action == "scale_in" }
        #expect(ins.count >= 2, "\(ins)")
        if let first = ins.first {
            #expect(first.time >= Self.stepEnd + Self.scaleInCooldown, "first scale-in at \(first.time)")
        }
        #expect(ins.allSatisfy { $0.from - $0.to == 1 }, "\(ins)")
        for (a, b) in zip(ins, ins.dropFirst()) {
            #expect(b.time - a.time >= Self.scaleInCooldown, "scale-ins at \(a.time) and \(b.time)")
        }
        // It returns to capacity.min once the load is gone.
        #expect(ins.last?.to == 1, "\(ins)")
    }

    @Test("table output has a header, one row per change and a summary line that matches json")
    func table() async throws {
        let sandbox = try Scratch()
        let (_, objects) = try await simulateJSON(sandbox)
        let json = try #require(parseSummary(objects))
        let changes = parseChanges(objects)

        let result = try await sandbox.run(["simulate", "--policy", Repo.policy("web"), "--metrics", Repo.loadStep])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        let lines = result.stdoutLines
        let header = try #require(lines.first)
        #expect(header.hasPrefix("TIME_S"), "\(result)")
        for column in ["ACTION", "FROM", "TO", "REASON"] { #expect(header.contains(column), "\(result)") }
        let rows = lines.dropFirst().dropLast()
        #expect(rows.count == changes.count, "\(result)")
        for (row, change) in zip(rows, changes) {
            let cells = row.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: true).map(String.init)
            #expect(
                cells.prefix(4) == ["\(Int(change.time))", change.action, "\(change.from)", "\(change.to)"], "\(row)")
        }
        #expect(
            lines.last
                == "\(json.scaleOuts) scale-outs, \(json.scaleIns) scale-ins; "
                + "serving ranged \(json.minServing)…\(json.maxServing); "
                + "\(json.underProvisionedSeconds) under-provisioned s, \(json.instanceSeconds) instance-s",
            "\(result)")
    }

    @Test("--start-count sets the serving count the replay starts from")
    func startCount() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run([
            "simulate", "--policy", Repo.policy("web"), "--metrics", Repo.loadStep, "--format", "json", "--start-count",
            "4",
        ])
        #expect(result.status == 0, "\(result)")
        let first = try #require(
            result.stdoutLines.first.flatMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            })
        #expect((first["from"] as? NSNumber)?.intValue == 4, "\(result)")
    }

    @Test("the other example policies simulate without error", arguments: ["api", "worker"])
    func otherPolicies(_ name: String) async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run([
            "simulate", "--policy", Repo.policy(name), "--metrics", Repo.loadStep, "--format", "json",
        ])
        #expect(result.status == 0, "\(result)")
        let last = result.stdoutLines.last.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(last?["summary"] != nil, "\(result)")
    }
}
