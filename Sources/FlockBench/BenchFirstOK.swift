import FlockCore
import FlockQEMU
import Foundation
import Synchronization

/// Times a starting VM from its request to its first HTTP 200 on `/healthz`, as the benches
/// define "serving": `bench clone` for every clone of a batch, `bench peak` for each instance.
struct BenchFirstOK: Sendable {
    /// The driver's state root, where each VM's record lands once its QEMU has a port.
    let stateRoot: String

    /// Polls the VM's `/healthz` from the moment its QEMU has a port until it answers 200; the
    /// milliseconds since `started` and the endpoint, or nil if the VM's start ended without it.
    ///
    /// A new attempt starts every 50 ms while fewer than four are open, each given up after
    /// 250 ms (3 s once the VM has had 20 s), and the first 200 of any wins. One patient
    /// attempt at a time would be wrong: a connection opened while a restored clone is still
    /// paused waits for the SYN retransmission (1 s, then 2 s), which would be timed instead of
    /// the clone. Many attempts would be wrong too: a TCG guest busy with probes restores slower.
    func wait(
        _ name: String, since started: ContinuousClock.Instant, startFinished: BenchFlag,
        limit: Duration = .seconds(300)
    ) async -> (ms: Double, host: String, port: Int)? {
        let deadline = started + limit
        var endpoint: (String, Int)?
        while endpoint == nil {
            if let record = recordOnDisk(name), let host = record.address, let port = record.port {
                endpoint = (host, port)
            } else if startFinished.isSet || ContinuousClock.now > deadline || Task.isCancelled {
                return nil
            } else {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        guard let (host, port) = endpoint else { return nil }
        return await Self.poll(host, port, since: started, until: deadline) {
            startFinished.isSet && recordOnDisk(name) == nil
        }.map { ($0, host, port) }
    }

    /// Probes `host:port`'s `/healthz` until it answers 200 (the milliseconds since `started`),
    /// `deadline` passes or `gone` says the VM went away (nil); the attempts as `wait` describes.
    /// For VMs whose endpoint is known without their record on this machine: `bench hosts`'
    /// clones on other hosts.
    static func poll(
        _ host: String, _ port: Int, since started: ContinuousClock.Instant, until deadline: ContinuousClock.Instant,
        gone: () -> Bool = { false }
    ) async -> Double? {
        let first = BenchFirstAnswer()
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if let elapsed = first.value { return elapsed }
            if first.begin(limit: 4) {
                let patience: Duration = ContinuousClock.now - started < .seconds(20) ? .milliseconds(250) : .seconds(3)
                Task.detached {
                    let response = try? await BenchHTTP.get(host, port, "/healthz", timeout: patience)
                    first.end(ok: response?.status == 200, at: BenchMath.milliseconds(ContinuousClock.now - started))
                }
            }
            if gone() { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return first.value
    }

    /// The VM's record read straight from its directory, not through the driver: the driver is
    /// an actor busy launching the VM, and waiting for it would delay every poll alike.
    private func recordOnDisk(_ name: String) -> VMRecord? {
        let path = "\(stateRoot)/vms/\(name)/vm.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(VMRecord.self, from: data)
    }
}

/// A one-way flag shared between the task starting VMs and the pollers.
final class BenchFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// The first successful attempt's time among overlapping health probes, and how many are open.
final class BenchFirstAnswer: Sendable {
    private let state = Mutex<(value: Double?, open: Int)>((nil, 0))

    var value: Double? { state.withLock { $0.value } }

    /// Counts a new attempt in, unless `limit` are already open.
    func begin(limit: Int) -> Bool {
        state.withLock {
            guard $0.open < limit else { return false }
            $0.open += 1
            return true
        }
    }

    func end(ok: Bool, at elapsed: Double) {
        state.withLock {
            $0.open -= 1
            if ok, $0.value == nil { $0.value = elapsed }
        }
    }
}
