import FlockBench
import Testing

/// `bench peak`'s definition of "at peak", on made-up traces: the earliest time from which every
/// window holds 90 % of the parent's rate, and only if that lasts the hold.
@Suite struct BenchPeakCriterionTests {
    /// `rate` responses a second, evenly spaced, over `[from, to)`.
    private func responses(_ rate: Int, from: Double, to: Double) -> [Double] {
        let count = Int((to - from) * Double(rate))
        return (0..<count).map { from + (Double($0) + 0.5) / Double(rate) }
    }

    private let criterion = BenchPeakCriterion(peak: 100, window: 2, hold: 5)

    @Test func aServerAtFullRateFromItsFirstAnswerPeaksThen() {
        let served = responses(100, from: 3, to: 20)
        #expect(criterion.timeToPeak(served: served, start: 3, end: 20) == 3)
    }

    @Test func theRampUpCountsUntilTheWindowHoldsNinetyPercent() throws {
        // Half rate while the caches warm, then full: the first good window starts where its
        // 2 s hold 180 responses (50 × (11 − t) + 100 × (t − 9) ≥ 180: t ≥ 10.6), before the
        // full rate begins.
        let served = responses(50, from: 1, to: 11) + responses(100, from: 11, to: 30)
        let peak = try #require(criterion.timeToPeak(served: served, start: 1, end: 30))
        #expect(abs(peak - 10.6) < 0.01, "\(peak)")
    }

    @Test func aDipAfterThePeakMovesItLater() throws {
        // At peak from 0, then 20/s for 2 s: the windows from 8.3 to 11.7 s are short, so the
        // peak is the first good one after the dip (20 × (12 − t) + 100 × (t − 10) ≥ 180).
        let served =
            responses(100, from: 0, to: 10) + responses(20, from: 10, to: 12) + responses(100, from: 12, to: 25)
        let peak = try #require(criterion.timeToPeak(served: served, start: 0, end: 25))
        #expect(abs(peak - 11.8) < 0.01, "\(peak)")
    }

    @Test func eightyFivePercentIsNeverAtPeak() {
        let served = responses(85, from: 0, to: 30)
        #expect(criterion.timeToPeak(served: served, start: 0, end: 30) == nil)
    }

    @Test func aPeakNotHeldForTheHoldDoesNotCount() throws {
        // At peak from 13.8 s (10 × (14 − t) + 100 × (t − 12) ≥ 180), and the last window of a
        // load ending at 20 s starts at 18 s: 4.2 s of peak, under the 5 s hold. A second more holds.
        let served = responses(10, from: 0, to: 14) + responses(100, from: 14, to: 20)
        #expect(criterion.timeToPeak(served: served, start: 0, end: 20) == nil)
        let longer = served + responses(100, from: 20, to: 21)
        let peak = try #require(criterion.timeToPeak(served: longer, start: 0, end: 21))
        #expect(abs(peak - 13.8) < 0.01, "\(peak)")
    }

    @Test func theCurveCountsWholeSecondsFromTheRequest() {
        let served = [0.2, 0.9, 1.0, 2.5, 2.6, 2.7, 3.1]
        #expect(BenchPeakCriterion.curve(served: served, end: 3.5) == [2, 1, 3])
        #expect(BenchPeakCriterion.curve(served: [], end: 0.4).isEmpty)
    }
}
