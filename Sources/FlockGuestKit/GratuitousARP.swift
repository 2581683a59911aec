/// The Ethernet frame of a gratuitous ARP (RFC 5227's "ARP announcement"): a broadcast request
/// for our own address, with our MAC as the sender. Neighbours that have an entry for the
/// address (a bridge's hosts, QEMU's user-mode stack) replace the MAC they had for it at once.
///
/// The agent sends it itself over an `AF_PACKET` socket rather than running `arping`: busybox has
/// one, but a Debian image has none by default, and the two `arping`s Debian packages
/// (iputils-arping and Thomas Habets' arping) disagree about their flags. One frame built here
/// behaves the same in every image.
public enum GratuitousARP {
    /// The 42-byte frame, or nil if `mac` is not `xx:xx:xx:xx:xx:xx` or `address` not dotted IPv4.
    public static func frame(mac: String, address: String) -> [UInt8]? {
        guard let hardware = NetworkAddress.mac(mac), let protocolAddress = NetworkAddress.ipv4(address) else {
            return nil
        }
        let broadcast = [UInt8](repeating: 0xFF, count: 6)
        var frame = broadcast + hardware + [0x08, 0x06]  // Ethernet: to all, from us, ARP
        frame += [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]  // Ethernet/IPv4, 6+4 bytes, request
        frame += hardware + protocolAddress  // sender: us
        frame += [UInt8](repeating: 0, count: 6) + protocolAddress  // target: our own address
        return frame
    }
}
