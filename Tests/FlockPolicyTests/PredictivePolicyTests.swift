import FlockCore
import FlockPolicy
import Foundation
import Testing

/// The `predictive` block: defaults, and every bad value located with a hint.
@Suite struct PredictivePolicyTests {
    func parse(_ block: String) throws(PolicyErrors) -> Policy {
        try PolicyParser.parse(PolicyDefaultsTests.minimal + "\n" + block + "\n", file: "p.yaml")
    }

    func diagnostics(_ block: String) -> [PolicyDiagnostic] {
        do {
            _ = try parse(block)
            Issue.record("expected validation errors")
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test func omittedFieldsTakeTheDefaults() throws {
        let predictive = try #require(try parse("predictive: { check: load }").predictive)
        #expect(
            predictive == Policy.Predictive(check: "load", season: .seconds(86_400), lead: nil, mode: .forecastOnly))
        #expect(try parse("dry_run: false").predictive == nil)
    }

    @Test func everyFieldParses() throws {
        let predictive = try #require(
            try parse("predictive: { check: load, season: 2h, lead: 2m, mode: scale }").predictive)
        #expect(
            predictive == Policy.Predictive(check: "load", season: .seconds(7200), lead: .seconds(120), mode: .scale))
    }

    @Test func theDefaultLeadIsTheMeasuredTimeToServePlusAnInterval() {
        let predictive = Policy.Predictive(check: "load")
        #expect(predictive.lead(measured: .milliseconds(1500), interval: .seconds(5)) == .milliseconds(6500))
        #expect(predictive.lead(measured: nil, interval: .seconds(5)) == .seconds(11))
        #expect(
            Policy.Predictive(check: "load", lead: .seconds(90)).lead(measured: .seconds(1), interval: .seconds(5))
                == .seconds(90))
    }

    @Test func anUnknownCheckIsLocatedAndTheValidOnesAreNamed() {
        let found = diagnostics("predictive: { check: lod }")
        #expect(found.count == 1)
        #expect(found.first?.message == "predictive.check 'lod' is not a target-value check of this policy")
        #expect(found.first?.hint == "use one of: load")
        #expect(found.first.map { ($0.line, $0.column) } ?? (0, 0) == (9, 22))
    }

    @Test func aThresholdCheckIsNotAccepted() throws {
        let text = PolicyDefaultsTests.minimal.replacingOccurrences(
            of: "target_value: { target: 10 }", with: "threshold: { above: 5, add: 1 }")
        do {
            _ = try PolicyParser.parse(text + "\npredictive: { check: load }\n", file: "p.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(
                error.diagnostics.map(\.message) == [
                    "predictive.check 'load' is not a target-value check of this policy"
                ])
            #expect(error.diagnostics.first?.hint?.contains("target_value") == true)
        }
    }

    @Test(
        "bad season, lead and mode values are located",
        arguments: [
            ("season: 30m", "predictive.season must be between 1h and 168h; got 30m"),
            ("season: 169h", "predictive.season must be between 1h and 168h; got 169h"),
            ("lead: 24h", "predictive.lead must be greater than 0 and shorter than the season (24h); got 24h"),
            ("season: 2h, lead: 3h", "predictive.lead must be greater than 0 and shorter than the season (2h); got 3h"),
            ("lead: 0s", "predictive.lead must be longer than zero"),
            ("lead: 2", "predictive.lead must be a duration; got '2'"),
            ("mode: scal", "predictive.mode: unknown value 'scal'"),
        ])
    func badValues(field: String, message: String) {
        let found = diagnostics("predictive: { check: load, \(field) }")
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix(message) == true, "\(found)")
        #expect(found.first?.line == 9)
    }

    @Test func unknownKeysAndAMissingCheckAreErrors() {
        let found = diagnostics("predictive: { season: 24h, leed: 2m }")
        #expect(found.contains { $0.message == "predictive is missing 'check'" })
        #expect(found.contains { $0.message.contains("unknown key 'leed'") && $0.hint == "did you mean 'lead'?" })
    }
}
