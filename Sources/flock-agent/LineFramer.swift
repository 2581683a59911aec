/// Splits the byte stream from the host into JSON Lines, enforcing the protocol's 64 KiB limit.
/// An over-long line is reported once and then skipped up to its newline, so one bad line never
/// desynchronises the lines after it.
struct LineFramer {
    enum Event: Equatable {
        case line([UInt8])
        case tooLong
    }

    static let maxLineBytes = 64 * 1024

    private var buffer: [UInt8] = []
    private var discarding = false

    /// Feeds newly read bytes and returns every complete line (or overflow) they finish.
    mutating func feed(_ chunk: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in chunk {
            if byte == 0x0A {
                if discarding {
                    discarding = false
                } else {
                    if buffer.last == 0x0D { buffer.removeLast() }
                    events.append(.line(buffer))
                }
                buffer.removeAll(keepingCapacity: true)
            } else if !discarding {
                buffer.append(byte)
                if buffer.count > Self.maxLineBytes {
                    buffer.removeAll(keepingCapacity: false)
                    discarding = true
                    events.append(.tooLong)
                }
            }
        }
        return events
    }

    /// Forgets a partial line; used when the port is reopened.
    mutating func reset() {
        buffer.removeAll(keepingCapacity: false)
        discarding = false
    }
}
