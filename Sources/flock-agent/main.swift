import Glibc

/// flock-agent: the in-guest end of the host protocol (see Deploy/guest/README.md): JSON lines
/// over the virtio-serial port under QEMU, xenstore keys (`XenIdentityChannel`) under Xen.
///
/// It never exits on its own: every error path sleeps briefly and tries again, because the same
/// process keeps running in every clone restored from a snapshot of this VM.
signal(SIGPIPE, SIG_IGN)
Log.info("starting")

var framer = LineFramer()
var port: AgentPort?
var reportedMissing = false
/// Only for debug logging: whether the last read saw a host, so transitions are logged once.
var hostPresent = false

while true {
    guard let current = port else {
        if let path = AgentPort.discover(), let opened = AgentPort.open(path) {
            Log.info("using \(path)")
            port = opened
            reportedMissing = false
            framer.reset()
        } else if XenStore.isAvailable {
            // A Xen PV guest has no virtio-serial port; the host talks through xenstore instead.
            var channel = XenIdentityChannel()
            channel.run()
        } else {
            if !reportedMissing { Log.info("port \(AgentPort.portName) not found yet; retrying") }
            reportedMissing = true
            usleep(500_000)
        }
        continue
    }
    switch current.read(timeoutMs: 1000) {
    case .data(let bytes):
        if !hostPresent { Log.debug("host connected") }
        hostPresent = true
        for event in framer.feed(bytes) {
            let reply: String
            switch event {
            case .line(let line):
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                Log.debug("<- " + String(decoding: line.prefix(120), as: UTF8.self))
                reply = MessageHandler.reply(to: line)
            case .tooLong:
                reply = MessageHandler.errorReply("line longer than \(LineFramer.maxLineBytes) bytes")
            }
            if current.writeLine(reply) {
                Log.debug("-> " + String(reply.prefix(120)))
            } else {
                Log.info("reply dropped: host not connected")
            }
        }
    case .waiting:
        continue
    case .disconnected:
        if hostPresent { Log.debug("host disconnected") }
        hostPresent = false
        // Disconnected hosts make poll return POLLHUP at once; a short sleep keeps that from spinning.
        // A partial line is kept on purpose: the next host's data can reach us before the kernel
        // reports it connected, so "EOF" does not prove a fragment is stale. The host's leading
        // empty line (see the README) completes any real leftover, which then gets one error.
        usleep(100_000)
    case .broken(let code):
        Log.info("port error \(code); reopening")
        current.close()
        port = nil
        usleep(500_000)
    }
}
