import Glibc

/// What the guest currently is, as reported in `ready`. Read fresh on every hello, because after
/// a snapshot restore the host may be talking to a clone whose state differs from what the agent
/// last saw.
struct GuestState {
    static let identityPath = "/run/flock/identity.json"

    var hostname: String
    var bootID: String
    var cloneID: String?
    var generation: Int64
    var appUp: Bool

    static func current() -> GuestState {
        let identity = IdentityFile.load()
        return GuestState(
            hostname: hostname(),
            bootID: Files.readTrimmed("/proc/sys/kernel/random/boot_id") ?? "",
            cloneID: identity?.cloneID,
            generation: identity?.generation ?? 0,
            appUp: AppHealth.isUp()
        )
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The identity file the agent writes for the app: `{"clone_id":…,"generation":…,"hostname":…}`.
struct IdentityFile {
    var cloneID: String?
    var generation: Int64
    var hostname: String

    static func load() -> IdentityFile? {
        guard let bytes = Files.read(GuestState.identityPath, maxBytes: 64 * 1024),
            let value = try? JSONParser.parse(bytes)
        else { return nil }
        return IdentityFile(
            cloneID: value["clone_id"]?.stringValue,
            generation: value["generation"]?.int64Value ?? 0,
            hostname: value["hostname"]?.stringValue ?? ""
        )
    }

    func save() -> Bool {
        let json = JSONWriter.object([
            ("clone_id", .optionalString(cloneID)),
            ("generation", .integer(generation)),
            ("hostname", .string(hostname)),
        ])
        return Files.makeDirectory("/run/flock")
            && Files.writeAtomically(GuestState.identityPath, Array((json + "\n").utf8))
    }
}
