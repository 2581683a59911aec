import FlockCore
import PropertyBased
import Testing

@Suite struct AggregateTests {
    static let oneToTen: [Double] = [7, 3, 10, 1, 5, 9, 2, 8, 4, 6]

    @Test(arguments: [
        (Aggregate.mean, 5.5),
        (.max, 10),
        (.min, 1),
        (.last, 6),
        (.p50, 5),
        (.p90, 9),
        (.p95, 10),
        (.p99, 10),
    ])
    func foldsOneToTen(aggregate: Aggregate, expected: Double) {
        #expect(aggregate.apply(Self.oneToTen) == expected)
    }

    @Test func percentilesUseNearestRank() {
        let hundred = (1...100).map(Double.init).reversed().map { $0 }
        #expect(Aggregate.p50.apply(hundred) == 50)
        #expect(Aggregate.p90.apply(hundred) == 90)
        #expect(Aggregate.p95.apply(hundred) == 95)
        #expect(Aggregate.p99.apply(hundred) == 99)
        let twenty = (1...20).map(Double.init)
        #expect(Aggregate.p95.apply(twenty) == 19)
    }

    @Test(arguments: Aggregate.allCases)
    func singleValueIsItself(aggregate: Aggregate) {
        #expect(aggregate.apply([42.5]) == 42.5)
    }

    @Test(arguments: Aggregate.allCases)
    func emptyWindowIsNilNotZero(aggregate: Aggregate) {
        #expect(aggregate.apply([]) == nil)
    }

    @Test func meanOfAConstantSeriesIsThatConstant() {
        // A threshold `above 0.1` must not fire on a series that is exactly 0.1 throughout.
        #expect(Aggregate.mean.apply([0.1, 0.1, 0.1]) == 0.1)
    }

    @Test func aggregatesAreOrdered() async {
        await propertyCheck(count: 300, input: Gen.double(in: -1000...1000).array(of: 1...50)) { values in
            let folded = Dictionary(uniqueKeysWithValues: Aggregate.allCases.map { ($0, $0.apply(values)!) })
            let chain: [Aggregate] = [.min, .p50, .p90, .p95, .p99, .max]
            for (lower, upper) in zip(chain, chain.dropFirst()) {
                #expect(folded[lower]! <= folded[upper]!, "\(lower) > \(upper) for \(values)")
            }
            #expect(folded[.min]! <= folded[.mean]! && folded[.mean]! <= folded[.max]!)
            #expect(folded[.last] == values.last)
        }
    }

    @Test func percentilesAreObservedValues() async {
        await propertyCheck(count: 300, input: Gen.double(in: 0...1000).array(of: 1...50)) { values in
            for aggregate in [Aggregate.p50, .p90, .p95, .p99, .min, .max] {
                let result = try #require(aggregate.apply(values))
                #expect(values.contains(result), "\(aggregate) gave \(result), not in \(values)")
            }
        }
    }
}
