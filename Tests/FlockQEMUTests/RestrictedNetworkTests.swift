import FlockSystem
import FlockTestSupport
import Foundation
import Synchronization
import Testing

@testable import FlockQEMU

#if canImport(Glibc)
    import Glibc
#endif

extension RealVMs {
    /// In user-mode networking 10.0.2.2 is the host's loopback. A `ScriptedGuest` runs the image's
    /// own init, waits for its app, then tries to connect to a listener the test opens on host
    /// 127.0.0.1 and prints the outcome on the console. The same probe without `restrict=on` is the
    /// control: it shows the probe does reach the host when nothing stops it.
    @Suite(.serialized)
    struct RestrictedNetworkTests {
        @Test func aGuestCannotReachTheHostsLoopbackButItsForwardServes() async throws {
            let outcome = try await probe(restricted: true)
            #expect(outcome.console.contains("FLOCKPROBE-BLOCKED"), "\(outcome.console.suffix(400))")
            #expect(outcome.accepted == 0, "the host's 127.0.0.1 listener was reached from the guest")
            #expect(outcome.forward == 200, "the host forward still serves /healthz")
        }

        @Test func withoutRestrictTheSameProbeReachesTheHost() async throws {
            let outcome = try await probe(restricted: false)
            #expect(outcome.console.contains("FLOCKPROBE-REACHED"), "\(outcome.console.suffix(400))")
            #expect(outcome.accepted >= 1)
        }

        private func probe(restricted: Bool) async throws -> (console: String, accepted: Int, forward: Int?) {
            let listener = try LoopbackListener()
            defer { listener.stop() }
            let script =
                "/init & until wget -q -O /dev/null http://127.0.0.1:8080/healthz; do sleep 1; done; "
                + "if nc -w 5 10.0.2.2 \(listener.port) </dev/null; then echo FLOCKPROBE-REACHED; "
                + "else echo FLOCKPROBE-BLOCKED; fi; while true; do sleep 100; done"
            let guest = try await ScriptedGuest(script: script) { arguments in
                restricted ? arguments : arguments.map { $0.replacingOccurrences(of: "restrict=on,", with: "") }
            }
            defer { guest.stop() }
            #expect(
                restricted == guest.arguments.contains { $0.hasPrefix("user,id=net0,restrict=on,hostfwd=") })
            let console = try await guest.console(until: "FLOCKPROBE-")
            let forward = try? await HTTP.get("127.0.0.1", guest.hostPort, "/healthz").status
            return (console, listener.accepted, forward)
        }
    }
}

/// A TCP listener on host 127.0.0.1 that counts the connections it accepts.
private final class LoopbackListener: Sendable {
    let port: Int
    private let fd: Int32
    private let count = Mutex(0)

    var accepted: Int { count.withLock { $0 } }

    init() throws {
        let listening = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listening, $0, length) == 0 && listen(listening, 8) == 0
                    && getsockname(listening, $0, &length) == 0
            }
        }
        guard bound else {
            close(listening)
            throw CocoaError(.fileWriteUnknown)
        }
        fd = listening
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                count.withLock { $0 += 1 }
                close(client)
            }
        }.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
