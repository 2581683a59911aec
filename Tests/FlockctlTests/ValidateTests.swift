import FlockTestSupport
import Foundation
import Testing

@Suite("flockctl policy validate")
struct ValidateTests {
    /// Every example policy shipped in Policies/.
    static let examplePolicies: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Repo.policies.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { Repo.policies.appendingPathComponent($0).path }
    }()

    @Test("the examples directory holds the four documented policies")
    func examplesExist() {
        #expect(
            Self.examplePolicies.map { URL(fileURLWithPath: $0).lastPathComponent } == [
                "api.yaml", "shop.yaml", "web.yaml", "worker.yaml",
            ])
    }

    @Test("each example policy is valid", arguments: examplePolicies)
    func examplePolicyIsValid(_ file: String) async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(["policy", "validate", file])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        let pool = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        #expect(result.stdout.hasPrefix("\(file): ok (pool \(pool), "), "\(result)")
    }

    @Test("validate touches no store")
    func validateNeedsNoStore() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(["policy", "validate"] + Self.examplePolicies)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.count == 4, "\(result)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.fallbackDB))
    }

    /// One policy with nine independent mistakes; each must be reported at its own position.
    static let badPolicy = """
        # nine mistakes, each reported with its line and column
        pool: web
        parent: web-parent
        balancer: { backend: app, port: 8080 }
        capacty: { min: 1, max: 4 }
        capacity:
          min: 5
          max: 2
        checks:
          - name: load
            metric: sessions_per_servr
            window: 10
            aggregate: average
            target_value: { target: 20 }
          - name: slow
            metric: response_time_ms
            threshold: { above: 250 }
          - name: both
            metric: queue
            threshold: { above: 10, below: 1, add: 1 }
          - name: zero
            metric: queue
            window: 0s
            threshold: { above: 10, for: -6s, add: 1 }

        """

    /// 1-based line and column of `token` on the only line of `text` that contains `marker`.
    static func position(of token: String, onLineWith marker: String, in text: String) -> (line: Int, column: Int) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let matches = lines.indices.filter { lines[$0].contains(marker) }
        precondition(matches.count == 1, "marker '\(marker)' must be on exactly one line")
        let line = lines[matches[0]]
        let start = line.range(of: marker)!.lowerBound
        let offset = line[start...].range(of: token)!.lowerBound
        return (matches[0] + 1, line.distance(from: line.startIndex, to: offset) + 1)
    }

    @Test("an invalid policy reports every error at its line and column, and exits 1")
    func everyErrorIsLocated() async throws {
        let sandbox = try Scratch()
        let file = try sandbox.write("bad.yaml", Self.badPolicy)
        let result = try await sandbox.run(["policy", "validate", file])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")

        let text = Self.badPolicy
        // (where the problem is, what the message must say)
        let expected: [((line: Int, column: Int), [String])] = [
            (
                Self.position(of: "capacty", onLineWith: "capacty:", in: text),
                ["unknown key 'capacty'", "did you mean 'capacity'?"]
            ),
            (
                Self.position(of: "5", onLineWith: "min: 5", in: text),
                ["capacity.min (5) is greater than capacity.max (2)"]
            ),
            (
                Self.position(of: "sessions_per_servr", onLineWith: "sessions_per_servr", in: text),
                ["checks[0].metric", "'sessions_per_servr'"]
            ),
            (
                Self.position(of: "10", onLineWith: "window: 10", in: text),
                ["checks[0].window must be a duration", "10s"]
            ),
            (
                Self.position(of: "average", onLineWith: "aggregate: average", in: text),
                ["checks[0].aggregate", "'average'"]
            ),
            (Self.position(of: "{", onLineWith: "{ above: 250 }", in: text), ["checks[1].threshold has no action"]),
            (
                Self.position(of: "below", onLineWith: "below: 1", in: text),
                ["checks[2].threshold has both 'above' and 'below'"]
            ),
            (
                Self.position(of: "0s", onLineWith: "window: 0s", in: text),
                ["checks[3].window must be longer than zero"]
            ),
            (Self.position(of: "-6s", onLineWith: "for: -6s", in: text), ["checks[3].threshold.for", "-6s"]),
        ]
        // Sanity-check the fixture arithmetic against hand-counted positions.
        #expect(expected[0].0 == (5, 1) && expected[1].0 == (7, 8) && expected[8].0 == (24, 34))

        let errorLines = result.stderrLines.filter { $0.contains(": error: ") }
        #expect(errorLines.count == expected.count, "\(result)")
        for (position, fragments) in expected {
            let prefix = "\(file):\(position.line):\(position.column): error: "
            let line = errorLines.first { $0.hasPrefix(prefix) }
            #expect(line != nil, "no error at \(position.line):\(position.column) in\n\(result.stderr)")
            for fragment in fragments {
                #expect(line?.contains(fragment) == true, "'\(fragment)' missing from \(line ?? "nothing")")
            }
        }
        #expect(result.stderrLines.last == "\(expected.count) errors", "\(result)")
    }

    @Test("an evaluation interval below 100ms and a cooldown over a day are located errors, exit 1")
    func limitsAreLocated() async throws {
        let sandbox = try Scratch()
        let text = try String(contentsOfFile: Repo.policy("web"), encoding: .utf8)
        let fast = text.replacingOccurrences(of: "evaluation_interval: 2s", with: "evaluation_interval: 1ms")
            .replacingOccurrences(of: "scale_out: { cooldown: 5s", with: "scale_out: { cooldown: 25h")
        let file = try sandbox.write("fast.yaml", fast)
        let result = try await sandbox.run(["policy", "validate", file])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        let interval = Self.position(of: "1ms", onLineWith: "evaluation_interval:", in: fast)
        let cooldown = Self.position(of: "25h", onLineWith: "scale_out:", in: fast)
        #expect(
            result.stderr.contains(
                "\(file):\(interval.line):\(interval.column): error: policy.evaluation_interval must be at least 100ms;"
                    + " got 1ms"), "\(result)")
        #expect(
            result.stderr.contains(
                "\(file):\(cooldown.line):\(cooldown.column): error: scale_out.cooldown must be at most 24h; got 25h"),
            "\(result)")
        #expect(result.stderrLines.last == "2 errors", "\(result)")
    }

    @Test("errors are listed in file order")
    func errorsAreSorted() async throws {
        let sandbox = try Scratch()
        let file = try sandbox.write("bad.yaml", Self.badPolicy)
        let result = try await sandbox.run(["policy", "validate", file])
        let positions = result.stderrLines.filter { $0.hasPrefix(file + ":") }.map { line -> [Int] in
            line.dropFirst(file.count + 1).split(separator: ":").prefix(2).compactMap { Int($0) }
        }
        #expect(positions.count == 9)
        #expect(positions == positions.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }, "\(result)")
    }

    @Test("a file that does not exist fails with its path")
    func missingFile() async throws {
        let sandbox = try Scratch()
        let file = sandbox.path("no-such-policy.yaml")
        let result = try await sandbox.run(["policy", "validate", file])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("\(file):1:1: error: cannot read the file"), "\(result)")
    }

    @Test("a directory given as a policy fails with its path")
    func directoryIsUnreadable() async throws {
        let sandbox = try Scratch()
        let dir = sandbox.path("policy.yaml")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let result = try await sandbox.run(["policy", "validate", dir])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("\(dir):1:1: error: cannot read the file"), "\(result)")
    }

    @Test("one unreadable file among good ones still fails the whole run, and the good ones are not reported ok")
    func missingAmongGood() async throws {
        let sandbox = try Scratch()
        let missing = sandbox.path("gone.yaml")
        let result = try await sandbox.run(["policy", "validate", Repo.policy("web"), missing])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains(missing), "\(result)")
        #expect(result.stderrLines.last == "1 error", "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
    }

    @Test("a YAML syntax error is located and exits 1")
    func syntaxError() async throws {
        let sandbox = try Scratch()
        // Line 3 is indented under a scalar; the parser trips on its ':' at column 11.
        let file = try sandbox.write("syntax.yaml", "pool: web\nparent: web-parent\n  balancer: x\n")
        let result = try await sandbox.run(["policy", "validate", file])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderrLines.first?.hasPrefix("\(file):3:11: error: invalid YAML") == true, "\(result)")
        #expect(result.stderrLines.last == "1 error", "\(result)")
    }

    @Test("an unclosed flow mapping is located after the line that opened it")
    func unclosedFlowMapping() async throws {
        let sandbox = try Scratch()
        let file = try sandbox.write("unclosed.yaml", "pool: web\ncapacity: { min: 1\nchecks: [\n")
        let result = try await sandbox.run(["policy", "validate", file])
        #expect(result.status == 1, "\(result)")
        let first = result.stderrLines.first ?? ""
        #expect(first.hasPrefix("\(file):3:") && first.contains(": error: invalid YAML"), "\(result)")
    }

    @Test("an empty file is an error, not a crash")
    func emptyFile() async throws {
        let sandbox = try Scratch()
        let file = try sandbox.write("empty.yaml", "")
        let result = try await sandbox.run(["policy", "validate", file])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("\(file):1:1: error: the policy file is empty"), "\(result)")
    }
}
