/// The xenstore keys of Flock's contract with the guest agent, in one place.
///
/// Xen has no virtio-serial port, so the identity travels through xenstore instead:
///
/// 1. The host writes `identity(domid)`: exactly the JSON object of the `identity` message
///    the QEMU driver sends over virtio-serial (`CloneIdentity.json`, `"type":"identity"`
///    included, no newline). Owner dom0, readable by the guest only.
/// 2. The agent applies it and writes its usual reply line, `{"type":"ack","clone_id":…}` or
///    `{"type":"error","message":…}`, to `ack(domid)`, in the `data` directory libxl makes
///    guest-writable.
/// 3. The host polls `ack(domid)` until a reply for this identity arrives: an `ack` whose
///    `clone_id` is the identity's (and whose `generation`, if the agent includes one, matches),
///    or an `error`.
///
/// `record(domid)` is the driver's own: the domain's Flock record (pool, role, lineage, spec),
/// dom0-only, so a restarted daemon re-finds what it owns and xenstore forgets it with the domain.
public enum XenIdentityKeys {
    /// `/local/domain/<domid>`, the guest's own xenstore home.
    public static func home(_ domid: UInt32) -> String { "/local/domain/\(domid)" }

    /// Where the host writes the identity JSON for the guest to read.
    public static func identity(_ domid: UInt32) -> String { "\(home(domid))/flock/identity" }

    /// Where the guest writes its reply (guest-writable: under `data`).
    public static func ack(_ domid: UInt32) -> String { "\(home(domid))/data/flock-ack" }

    /// The driver's record of the domain (dom0-only).
    public static func record(_ domid: UInt32) -> String { "\(home(domid))/flock/record" }

    /// How often the host reads `ack` while waiting.
    public static let pollInterval: Duration = .milliseconds(100)
}
