import FlockCore
import FlockPolicy
import FlockTestSupport
import Foundation
import Testing

/// Validation reports every problem at once, each at its file:line:column.
@Suite struct PolicyValidationTests {
    /// Parses `text` expecting failure and returns the diagnostics.
    func diagnostics(_ text: String) -> [PolicyDiagnostic] {
        do {
            _ = try PolicyParser.parse(text, file: "p.yaml")
            Issue.record("expected validation errors")
            return []
        } catch {
            return error.diagnostics
        }
    }

    func valid(replacing old: String, with new: String) -> String {
        let text = PolicyDefaultsTests.minimal.replacingOccurrences(of: old, with: new)
        precondition(text != PolicyDefaultsTests.minimal, "fixture did not change")
        return text
    }

    @Test func unknownKeyIsLocatedAndGetsASuggestion() throws {
        let found = diagnostics(valid(replacing: "capacity:", with: "capacty:"))
        let typo = try #require(found.first { $0.message.contains("unknown key 'capacty'") })
        #expect((typo.line, typo.column) == (4, 1))
        #expect(typo.hint == "did you mean 'capacity'?")
        #expect(
            typo.description == "p.yaml:4:1: error: unknown key 'capacty' in policy (hint: did you mean 'capacity'?)")
        #expect(found.contains { $0.message == "policy is missing 'capacity'" })
    }

    @Test func wrongTypesAreErrors() {
        let found = diagnostics(
            valid(replacing: "port: 80", with: "port: eighty")
                .replacingOccurrences(of: "min: 2", with: "min: [2]")
        )
        #expect(found.contains { $0.line == 3 && $0.message.contains("balancer.port must be a whole number") })
        #expect(
            found.contains { $0.line == 4 && $0.message.contains("capacity.min must be a whole number; got a list") })
    }

    @Test func minAboveMaxAndNegativeCountsAreErrors() {
        let found = diagnostics(valid(replacing: "{ min: 2, max: 4 }", with: "{ min: 5, max: 4 }"))
        #expect(found.map(\.message) == ["capacity.min (5) is greater than capacity.max (4)"])
        #expect(found.first.map { ($0.line, $0.column) } ?? (0, 0) == (4, 18))

        let negative = diagnostics(valid(replacing: "{ min: 2, max: 4 }", with: "{ min: -1, max: 4 }"))
        #expect(negative.contains { $0.message.contains("capacity.min must be at least 1; got -1") })
    }

    @Test func unknownMetricAndAggregateAreErrors() {
        let found = diagnostics(
            valid(replacing: "metric: sessions_per_server", with: "metric: sessions_per_servr\n    aggregate: median")
        )
        #expect(found.count == 2)
        #expect(found[0].line == 7 && found[0].hint == "did you mean 'sessions_per_server'?")
        #expect(found[1].line == 8 && found[1].message.contains("aggregate: unknown value 'median'"))
    }

    @Test func thresholdNeedsExactlyOneBoundAndOneAction() {
        let noAction = diagnostics(valid(replacing: "target_value: { target: 10 }", with: "threshold: { above: 5 }"))
        #expect(noAction.map(\.message) == ["checks[0].threshold has no action"])
        #expect(noAction.first?.line == 8)

        let both = diagnostics(
            valid(replacing: "target_value: { target: 10 }", with: "threshold: { above: 5, below: 1, add: 1 }"))
        #expect(both.map(\.message) == ["checks[0].threshold has both 'above' and 'below'"])
        #expect(both.first.map { ($0.line, $0.column) } ?? (0, 0) == (8, 28))

        let twoActions = diagnostics(
            valid(replacing: "target_value: { target: 10 }", with: "threshold: { above: 5, add: 1, remove: 1 }"))
        #expect(twoActions.first?.message.contains("more than one action") == true)

        let noBound = diagnostics(valid(replacing: "target_value: { target: 10 }", with: "threshold: { add: 1 }"))
        #expect(noBound.map(\.message) == ["checks[0].threshold needs a bound"])
    }

    @Test func checkNeedsExactlyOneRuleAndAUniqueName() {
        let none = diagnostics(valid(replacing: "    target_value: { target: 10 }", with: ""))
        #expect(none.map(\.message) == ["checks[0] needs a rule"])
        let twice = diagnostics(
            PolicyDefaultsTests.minimal + "\n  - name: load\n    metric: queue\n    threshold: { above: 1, add: 1 }\n"
        )
        #expect(twice.map(\.message) == ["check name 'load' is already used by checks[0]"])
        #expect(twice.first?.line == 9)
    }

    @Test func zeroNegativeAndMalformedDurationsAreErrors() {
        let found = diagnostics(
            PolicyDefaultsTests.minimal
                + "\nevaluation_interval: 0s\nscale_out: { cooldown: -5s }\nscale_in: { stabilization: 2 }\n"
        )
        #expect(found.count == 3)
        #expect(found[0].message == "policy.evaluation_interval must be longer than zero" && found[0].line == 9)
        #expect(found[1].message == "scale_out.cooldown must be longer than zero; got '-5s'" && found[1].line == 10)
        #expect(found[2].hint == "add a unit, e.g. '2s'" && found[2].line == 11)
    }

    @Test func evaluationIntervalBelow100msIsALocatedError() throws {
        let found = diagnostics(PolicyDefaultsTests.minimal + "\nevaluation_interval: 1ms\n")
        let only = try #require(found.first)
        #expect(found.count == 1)
        #expect(
            only.description
                == "p.yaml:9:22: error: policy.evaluation_interval must be at least 100ms; got 1ms (hint: evaluating "
                + "more often loads the balancer and the store without scaling sooner; write 100ms or more)")
        // The bound itself is allowed.
        let policy = try PolicyParser.parse(
            PolicyDefaultsTests.minimal + "\nevaluation_interval: 100ms\n", file: "p.yaml")
        #expect(policy.evaluationInterval == .milliseconds(100))
    }

    @Test func windowsCooldownsAndTimeoutsOverADayAreLocatedErrors() throws {
        let text =
            PolicyDefaultsTests.minimal.replacingOccurrences(
                of: "    target_value: { target: 10 }",
                with: "    window: 25h\n    target_value: { target: 10 }\n  - name: hot\n    metric: queue\n"
                    + "    threshold: { above: 5, for: 1441m, add: 1 }")
            + "\nscale_out: { cooldown: 86401s }"
            + "\nscale_in: { cooldown: 48h, stabilization: 30h, drain_timeout: 100000s }\n"
        let found = diagnostics(text)
        let lines = found.map { "\($0.line):\($0.column): \($0.message)" }
        #expect(
            lines == [
                "8:13: checks[0].window must be at most 24h; got 25h",
                "12:33: checks[1].threshold.for must be at most 24h; got 1441m",
                "13:24: scale_out.cooldown must be at most 24h; got 86401s",
                "14:23: scale_in.cooldown must be at most 24h; got 48h",
                "14:43: scale_in.stabilization must be at most 24h; got 30h",
                "14:63: scale_in.drain_timeout must be at most 24h; got 100000s",
            ], "\(found)")
        #expect(found.allSatisfy { $0.hint == "write 24h or less" })
        let oneDay = PolicyDefaultsTests.minimal + "\nscale_in: { cooldown: 24h, stabilization: 1440m }\n"
        #expect(try PolicyParser.parse(oneDay, file: "p.yaml").scaleIn.stabilization == .seconds(86_400))
    }

    @Test func serverOptionsAreRangeChecked() {
        let found = diagnostics(
            valid(
                replacing: "balancer: { backend: shop, port: 80 }",
                with:
                    "balancer: { backend: shop, port: 80, server: { rise: 0, weight: 300, inter: 2d, maxconn: x, chek: 1 } }"
            )
        )
        #expect(found.count == 5)
        #expect(found.allSatisfy { $0.line == 3 })
        #expect(found.contains { $0.message == "balancer.server.rise must be between 1 and 1000; got 0" })
        #expect(found.contains { $0.message == "balancer.server.weight must be between 0 and 256; got 300" })
        #expect(found.contains { $0.message.hasPrefix("balancer.server.inter must be a duration") })
        #expect(found.contains { $0.message.hasPrefix("balancer.server.maxconn must be a whole number") })
        #expect(found.contains { $0.message == "unknown key 'chek' in balancer.server" })
    }

    @Test func everyErrorIsReportedInOneRun() {
        let text = """
            pool: Bad_Name
            parent: p
            balancer: { backend: b, port: 0 }
            capacity: { min: 3, max: 1 }
            checks:
              - name: a
                metric: nope
                window: 0s
                target_value: { target: 0, tolerance: 1.5 }
            clone: { mode: warm }
            """
        let found = diagnostics(text)
        #expect(found.map(\.line) == [1, 3, 4, 7, 8, 9, 9, 10])
        #expect(found.allSatisfy { $0.description.hasPrefix("p.yaml:\($0.line):\($0.column): error: ") })
    }

    @Test func yamlSyntaxAndDuplicateKeysAreLocated() {
        let syntax = diagnostics("pool: web\n  parent: [\n")
        #expect(syntax.count == 1 && syntax[0].line == 2 && syntax[0].message.hasPrefix("invalid YAML"))
        let duplicate = diagnostics("pool: web\npool: api\n")
        #expect(duplicate.map(\.message) == ["duplicate key 'pool'"])
        let empty = diagnostics("")
        #expect(empty.map(\.message) == ["the policy file is empty"])
        let list = diagnostics("- 1\n- 2\n")
        #expect(list.first?.message.hasPrefix("policy must be a mapping") == true)
    }

    @Test func poolNamesAreUniqueAcrossFilesAndUnreadableFilesAreReported() throws {
        let scratch = try Scratch(prefix: "flock-policy")
        let a = scratch.path("a.yaml"), b = scratch.path("b.yaml")
        try PolicyDefaultsTests.minimal.write(toFile: a, atomically: true, encoding: .utf8)
        try ("# copy\n" + PolicyDefaultsTests.minimal).write(toFile: b, atomically: true, encoding: .utf8)
        let missing = scratch.path("missing.yaml")
        do {
            _ = try PolicyDocument.load(files: [a, b, missing])
            Issue.record("expected errors")
        } catch {
            #expect(error.diagnostics.count == 2)
            #expect(error.diagnostics[0].description.hasPrefix("\(b):2:7: error: pool 'shop' is also defined in \(a)"))
            #expect(
                error.diagnostics[1].file == missing && error.diagnostics[1].message.hasPrefix("cannot read the file"))
        }
    }
}
