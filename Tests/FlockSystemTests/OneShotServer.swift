import FlockSystem
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A loopback TCP listener that serves one connection on a thread of its own: it reads the
/// request head, then writes `answer` (or nothing, when nil, holding the connection open until
/// `stop()`), and keeps the head it read.
final class OneShotServer: Sendable {
    let port: Int
    private let fd: Int32
    private let received = Mutex("")
    private let done = DispatchSemaphore(value: 0)
    private let release = DispatchSemaphore(value: 0)

    init(answer: String?) throws {
        (fd, port) = try bindLoopback(type: SOCK_STREAM)
        guard listen(fd, 4) == 0 else {
            let reason = errnoText()
            close(fd)
            throw SocketError(.failed, "listen: \(reason)")
        }
        let thread = Thread { [self] in serve(answer) }
        thread.start()
    }

    /// The request head the server read.
    var request: String { received.withLock { $0 } }

    private func serve(_ answer: String?) {
        defer { done.signal() }
        let client = accept(fd, nil, nil)
        guard client >= 0 else { return }
        defer { close(client) }
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]), recv(client, &byte, 1, 0) == 1 { head.append(byte) }
        received.withLock { $0 = String(decoding: head, as: UTF8.self) }
        guard let answer else {
            // Bounded, so a client whose timeout is broken fails its test instead of hanging it.
            _ = release.wait(timeout: .now() + 60)
            return
        }
        _ = Array(answer.utf8).withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Lets a silent server close its connection, and waits for its thread.
    func stop() {
        release.signal()
        done.wait()
        close(fd)
    }
}
