import FlockCore
import FlockPolicy
import Foundation
import Testing

/// The `standby` block: defaults, and every bad value located with a hint.
@Suite struct StandbyPolicyTests {
    func parse(_ block: String) throws(PolicyErrors) -> Policy {
        try PolicyParser.parse(PolicyDefaultsTests.minimal + "\n" + block + "\n", file: "p.yaml")
    }

    func diagnostic(_ block: String) -> PolicyDiagnostic? {
        do {
            _ = try parse(block)
            Issue.record("expected a validation error for \(block)")
            return nil
        } catch {
            #expect(error.diagnostics.count == 1, "\(error.diagnostics)")
            return error.diagnostics.first
        }
    }

    @Test func maxAgeDefaultsToFiveMinutes() throws {
        #expect(try parse("standby: { count: 2 }").standby == Policy.Standby(count: 2, maxAge: .seconds(300)))
        #expect(
            try parse("standby: { count: 3, max_age: 90s }").standby == Policy.Standby(count: 3, maxAge: .seconds(90)))
        #expect(try parse("dry_run: false").standby == nil)
    }

    @Test func aMissingOrNonPositiveCountIsLocated() {
        let missing = diagnostic("standby: { max_age: 5m }")
        #expect(missing?.message.contains("count") == true, "\(String(describing: missing))")
        let zero = diagnostic("standby: { count: 0 }")
        #expect(zero?.message == "standby.count must be between 1 and 100000; got 0")
        #expect(zero.map { ($0.line, $0.column) } ?? (0, 0) == (9, 19))
    }

    @Test func moreStandbysThanCapacityCouldActivateAreRefused() {
        // capacity.max 4 is the parent and three clones.
        let found = diagnostic("standby: { count: 4 }")
        #expect(found?.message == "standby.count (4) is more than capacity.max (4) allows clones (3)")
        #expect(found?.hint?.contains("at most 3") == true)
        #expect(throws: Never.self) { try parse("standby: { count: 3 }") }
    }

    @Test func onlyLazyClonesCanBeStandbys() {
        let found = diagnostic("clone: { mode: eager }\nstandby: { count: 1 }")
        #expect(found?.message == "standby needs clone.mode lazy; this policy clones eager")
        #expect(found?.line == 10)
    }

    @Test func aMaxAgeUnderAMinuteIsRefusedWithWhy() {
        let found = diagnostic("standby: { count: 1, max_age: 10s }")
        #expect(found?.message == "standby.max_age must be at least 1m; got 10s")
        #expect(found?.hint?.contains("pauses the parent") == true)
        #expect(diagnostic("standby: { count: 1, max_age: 25h }")?.message.contains("at most") == true)
        #expect(diagnostic("standby: { count: 1, max_age: soon }")?.message.contains("must be a duration") == true)
    }

    @Test func anUnknownKeyIsNamed() {
        let found = diagnostic("standby: { count: 1, maxage: 5m }")
        #expect(found?.message.contains("maxage") == true, "\(String(describing: found))")
    }
}
