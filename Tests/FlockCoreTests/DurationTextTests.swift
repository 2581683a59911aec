import FlockCore
import Foundation
import PropertyBased
import Testing

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)),
        ("2s", .seconds(2)),
        ("1m", .seconds(60)),
        ("1h", .seconds(3600)),
        ("90s", .seconds(90)),
        ("0s", .zero),
    ])
    func parsesOneIntegerAndOneUnit(text: String, expected: Duration) {
        #expect(Duration(flockText: text) == expected)
    }

    @Test(arguments: ["", "2", "-1s", "+1s", "1.5s", "1m30s", "2 s", " 2s", "s", "10d", "5S", "1sec", "１s"])
    func rejectsAnythingElse(text: String) {
        #expect(Duration(flockText: text) == nil)
    }

    @Test(arguments: [
        (Duration.milliseconds(500), "500ms"),
        (.milliseconds(1500), "1500ms"),
        (.seconds(90), "90s"),
        (.seconds(120), "2m"),
        (.seconds(7200), "2h"),
        (.zero, "0s"),
    ])
    func printsTheShortestExactForm(duration: Duration, expected: String) {
        #expect(duration.flockText == expected)
    }

    @Test func oddMillisecondsPrintExactly() {
        // 1001 ms is 1.001 s; printing it as "1000ms" would silently change a policy on save.
        #expect(Duration.milliseconds(1001).flockText == "1001ms")
    }

    @Test func everyMillisecondCountUpToTenSecondsRoundTrips() {
        let broken = (0...10_000).filter { ms in
            Duration(flockText: Duration.milliseconds(ms).flockText) != .milliseconds(ms)
        }
        #expect(broken.count == 0, "first values that do not round-trip: \(broken.prefix(5))")
    }

    @Test func parsedTextRoundTrips() async {
        let units = ["ms", "s", "m", "h"]
        await propertyCheck(count: 2000, input: Gen.int(in: 0...10_000), Gen.int(in: 0...3)) { value, unit in
            let text = "\(value)\(units[unit])"
            let parsed = try #require(Duration(flockText: text))
            #expect(Duration(flockText: parsed.flockText) == parsed, "\(text) printed as \(parsed.flockText)")
        }
    }
}

/// Whatever the parser accepts must print, even at the top of its range. A policy can hold such
/// a value (FlockPolicy only requires a positive duration), and reasons print policy durations.
/// Each case runs in a child process, because an arithmetic overflow traps.
@Suite struct DurationTextLimitTests {
    @Test(arguments: [
        "9223372036854775807ms", "10000000000000000s", "9223372036854775807s", "153722867280912930m",
        "2562047788015215h",
    ])
    func largestAcceptedValuesRoundTrip(text: String) async {
        await #expect(processExitsWith: .success) { [text] in
            guard let parsed = Duration(flockText: text) else { exit(0) }  // rejecting is fine too
            exit(Duration(flockText: parsed.flockText) == parsed ? 0 : 1)
        }
    }
}
