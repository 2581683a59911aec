import FlockCore
import FlockTestSupport
import Foundation
import Testing

@testable import FlockStore

@Suite struct SampleTests {
    @Test func samplesRoundTripIncludingErrors() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let samples = [
            MetricSample(metric: .sessionsPerServer, time: at(0), value: 12.5),
            MetricSample(metric: .queue, time: at(0), reading: .error("haproxy: connection refused")),
            MetricSample(metric: .sessionsPerServer, time: at(5), value: 0),
        ]
        try store.append(samples: samples, pool: "web")
        try store.append(samples: [MetricSample(metric: .queue, time: at(1), value: 3)], pool: "api")
        #expect(try store.samples(pool: "web", since: at(0)) == samples)
        #expect(try store.samples(pool: "web", since: at(1)) == [samples[2]])
    }

    @Test func batchAcrossPoolsAndNaN() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.append(samples: [
            "web": [MetricSample(metric: .queue, time: at(0), value: .nan)],
            "api": [MetricSample(metric: .queue, time: at(0), value: 1)],
        ])
        #expect(try store.samples(pool: "api", since: t0) == [MetricSample(metric: .queue, time: at(0), value: 1)])
        let nan = try #require(try store.samples(pool: "web", since: t0).first)
        #expect(nan.value == nil, "NaN must never read back as a number")
    }

    @Test func retentionIsEnforcedAsSamplesArrive() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try FlockStore(path: scratch.path("flock.db"), sampleRetention: .seconds(100))
        #expect(store.sampleRetention == .seconds(100))
        // One sample every 10 s for 300 s; retention runs at most once a minute of sample time.
        for second in stride(from: 0.0, through: 300, by: 10) {
            try store.append(samples: [MetricSample(metric: .queue, time: at(second), value: second)], pool: "web")
        }
        let kept = try store.samples(pool: "web", since: t0).map(\.time)
        // The last prune ran at 300 s and kept everything from 200 s on.
        #expect(kept.first == at(200))
        #expect(kept.last == at(300))
    }

    @Test func defaultRetentionIsADay() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        #expect(store.sampleRetention == .seconds(86_400))
        try store.append(samples: [MetricSample(metric: .queue, time: at(0), value: 1)], pool: "web")
        try store.append(samples: [MetricSample(metric: .queue, time: at(86_000), value: 1)], pool: "web")
        #expect(try store.samples(pool: "web", since: t0).count == 2)
        try store.append(samples: [MetricSample(metric: .queue, time: at(86_401), value: 1)], pool: "web")
        #expect(try store.samples(pool: "web", since: t0).count == 2)
    }

    @Test func pruningRemovesOnlyOldSamples() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let samples = (0..<10).map { MetricSample(metric: .queue, time: at(Double($0)), value: Double($0)) }
        try store.append(samples: samples, pool: "web")
        try store.append(samples: [MetricSample(metric: .queue, time: at(2), value: 0)], pool: "api")
        #expect(try store.pruneSamples(olderThan: at(5)) == 6)
        #expect(try store.samples(pool: "web", since: .distantPast) == Array(samples[5...]))
        #expect(try store.samples(pool: "api", since: .distantPast).isEmpty)
        #expect(FlockStore.defaultSampleRetention == .seconds(86_400))
    }
}
