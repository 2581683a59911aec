/// An asynchronous QMP event, e.g. `STOP`, `RESUME`, `MIGRATION` or `SHUTDOWN`.
public struct QMPEvent: Sendable, Hashable {
    /// QMP's `event` field.
    public var name: String
    /// QMP's `data` field, `.null` when absent.
    public var data: JSONValue
    /// QEMU's timestamp, seconds since the epoch.
    public var timestamp: Double

    public init(name: String, data: JSONValue = .null, timestamp: Double = 0) {
        self.name = name
        self.data = data
        self.timestamp = timestamp
    }
}
