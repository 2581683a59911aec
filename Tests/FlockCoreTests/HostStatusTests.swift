import FlockCore
import Foundation
import Testing

/// `/v1/hosts` merges the pools' views of a host into one row.
@Suite struct HostStatusTests {
    @Test func aHostNamedByTwoPoolsIsOneRowWithTheFreshestAnswer() {
        let older = Date(timeIntervalSince1970: 1_800_000_000)
        let merged = HostStatus.merged([
            HostStatus(name: "b2", pools: ["web"], reachable: true, vms: 1, lastAnswer: older),
            HostStatus(name: "b1", pools: ["web"], reachable: true, vms: 2, lastAnswer: older),
            HostStatus(
                name: "b2", pools: ["api"], reachable: false, vms: 4, lastError: "hello: timed out",
                lastAnswer: older.addingTimeInterval(5)),
        ])
        #expect(merged.map(\.name) == ["b1", "b2"])
        #expect(merged.last?.pools == ["api", "web"])
        #expect(merged.last?.vms == 4 && merged.last?.reachable == false, "the freshest view stands")
        #expect(merged.last?.lastError == "hello: timed out")
    }
}
