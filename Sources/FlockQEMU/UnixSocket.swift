import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A connected unix stream socket, with the few calls QMP and the agent need, over FlockSystem's
/// `SocketIO`.
///
/// QEMU's sockets are local and answer in microseconds, so blocking calls on a dedicated thread
/// (QMP) or bounded by a deadline (agent) are simpler and easier to reason about than an event loop.
final class UnixSocket: Sendable {
    let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Connects, retrying while the socket does not exist yet or refuses (QEMU still starting),
    /// until `timeout` passes or `keepTrying` says the peer is gone for good.
    static func connect(
        path: String, timeout: Duration, keepTrying: @Sendable () -> Bool = { true }
    ) async throws(QEMUError) -> UnixSocket {
        let deadline = ContinuousClock.now + timeout
        while true {
            let lastError: SocketError
            do throws(SocketError) {
                return UnixSocket(fd: try SocketIO.connectUnix(path, deadline: deadline), path: path)
            } catch {
                guard error.code == ENOENT || error.code == ECONNREFUSED || error.isTimeout else {
                    throw .connect(path, error.message)
                }
                lastError = error
            }
            guard ContinuousClock.now < deadline, keepTrying() else {
                // A listener that is there but never accepts (its queue stays full: the process
                // hangs) is a peer that does not answer, as a read that times out is; a missing
                // or refusing socket is one that is not there.
                if lastError.isTimeout {
                    throw .timeout("connect to \(path) (its listen queue stayed full)", after: timeout)
                }
                throw .connect(path, "\(lastError.message) (gave up after \(timeout))")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Writes all of `data`; fails if the peer is gone or stops reading for 10 seconds.
    func send(_ data: Data, what: String) throws(QEMUError) {
        do {
            try SocketIO.sendAll(fd, data, until: .now + .seconds(10))
        } catch {
            if error.isTimeout { throw .timeout("\(what): write to \(path)", after: .seconds(10)) }
            throw .disconnected("\(what): write to \(path) failed: \(error.message)")
        }
    }

    /// One read, waiting as long as it takes; 0 means the peer closed, -1 an error.
    func readChunk(into buffer: inout [UInt8]) -> Int {
        (try? SocketIO.receive(fd, into: &buffer, until: nil)) ?? -1
    }

    /// Waits until the socket is readable or `deadline` passes; false on timeout.
    func waitReadable(until deadline: ContinuousClock.Instant) -> Bool {
        do {
            try SocketIO.wait(fd, for: Int16(POLLIN), until: deadline)
            return true
        } catch {
            return !error.isTimeout  // let the read report the error
        }
    }

    /// Wakes a thread blocked in `readChunk`, which then sees end of file.
    func shutdown() { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    deinit { close(fd) }
}

/// Splits a byte stream into lines, bounded so that a peer sending garbage without newlines
/// cannot exhaust memory: an over-long line is dropped up to its newline and reported.
struct LineSplitter {
    let limit: Int
    private var buffer: [UInt8] = []
    private var discarding = false

    init(limit: Int) { self.limit = limit }

    enum Item: Equatable {
        case line([UInt8])
        case tooLong
    }

    mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Item] {
        var items: [Item] = []
        var rest = bytes
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            if discarding {
                discarding = false
            } else {
                buffer.append(contentsOf: rest[rest.startIndex..<newline])
                if buffer.count > limit {
                    items.append(.tooLong)
                } else {
                    if buffer.last == UInt8(ascii: "\r") { buffer.removeLast() }
                    items.append(.line(buffer))
                }
            }
            buffer.removeAll(keepingCapacity: true)
            rest = rest[(newline + 1)...]
        }
        if !discarding {
            buffer.append(contentsOf: rest)
            if buffer.count > limit {
                buffer.removeAll()
                discarding = true
                items.append(.tooLong)
            }
        }
        return items
    }
}
