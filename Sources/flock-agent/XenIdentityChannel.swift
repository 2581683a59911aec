import FlockGuestKit
import Glibc

/// The agent's transport on Xen, where there is no virtio-serial port: xenstore keys under the
/// domain's own home (`/local/domain/<domid>/`), read and written with relative paths.
///
/// Contract with the host (Deploy/guest/README.md, "On Xen"):
/// - the host writes `flock/identity`, holding exactly the identity JSON object the QEMU path
///   sends over virtio-serial, readable by the domain;
/// - the agent polls it every 100 ms. When its (clone_id, generation) differs from what the
///   guest has applied (`/run/flock/identity.json`), the agent hands the bytes to
///   `MessageHandler` (the same code the serial path uses) and writes the reply line, `ack` or
///   `error`, to `data/flock-ack`.
///
/// The check compares values rather than remembering "seen since start", because a restored
/// clone resumes with its parent's agent, mid-loop, with the parent's memory.
struct XenIdentityChannel {
    static let identityKey = "flock/identity"
    static let ackKey = "data/flock-ack"
    static let pollMicroseconds: UInt32 = 100_000

    private var store: XenStore?
    /// The key's bytes when it last failed to apply, so a bad identity is answered once, not
    /// every 100 ms; a new write by the host (new bytes) is tried again.
    private var lastRefused: [UInt8]?
    /// A reply that could not be written yet; retried on the next round.
    private var pendingAck: String?
    private var reportedError = ""

    /// Polls forever.
    mutating func run() -> Never {
        Log.info("on Xen: polling xenstore key \(Self.identityKey)")
        while true {
            step()
            usleep(Self.pollMicroseconds)
        }
    }

    mutating func step() {
        guard let current = store ?? XenStore.open() else {
            report("cannot open \(XenStore.devicePath): errno \(errno)")
            return
        }
        store = current

        if let ack = pendingAck {
            if case .failure(let failure) = current.write(Self.ackKey, Array(ack.utf8)) {
                handle(failure, doing: "write \(Self.ackKey)")
                return
            }
            pendingAck = nil
        }

        let bytes: [UInt8]
        switch current.read(Self.identityKey) {
        case .success(let value): bytes = value
        case .failure(.noEntry):
            reportedError = ""
            return  // the parent, or a clone whose host has not written it yet
        case .failure(let failure):
            handle(failure, doing: "read \(Self.identityKey)")
            return
        }
        reportedError = ""
        guard bytes != lastRefused, !Self.alreadyApplied(bytes) else { return }

        Log.debug("<- xenstore " + String(decoding: bytes.prefix(120), as: UTF8.self))
        let reply = MessageHandler.reply(to: bytes)
        Log.debug("-> xenstore " + String(reply.prefix(120)))
        lastRefused = Self.alreadyApplied(bytes) ? nil : bytes
        if case .failure(let failure) = current.write(Self.ackKey, Array(reply.utf8)) {
            pendingAck = reply
            handle(failure, doing: "write \(Self.ackKey)")
        }
    }

    /// Whether the guest already runs the identity in `bytes`: same clone_id and generation as
    /// the identity file the applier wrote.
    static func alreadyApplied(_ bytes: [UInt8]) -> Bool {
        guard let message = try? JSONParser.parse(bytes),
            let cloneID = message["clone_id"]?.stringValue,
            let generation = message["generation"]?.int64Value,
            let applied = IdentityFile.load()
        else { return false }
        return applied.cloneID == cloneID && applied.generation == generation
    }

    private mutating func handle(_ failure: XenStore.Failure, doing what: String) {
        report("\(what): \(failure)")
        if case .io = failure {
            // The device lost track (for example across a save/restore): start a fresh one.
            store?.close()
            store = nil
        }
    }

    private mutating func report(_ message: String) {
        guard message != reportedError else { return }
        reportedError = message
        Log.info("xenstore: " + message)
    }
}
