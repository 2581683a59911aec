import FlockGuestKit
import Testing

@Suite struct HostsFileTests {
    @Test func debiansLineTakesTheNewHostnameAndTheRestIsKept() {
        let text =
            "127.0.0.1\tlocalhost\n127.0.1.1 flock-guest  # the machine's own name\n::1 localhost ip6-localhost\n"
        #expect(
            HostsFile.renaming(text, to: "flock-web-1a2b")
                == "127.0.0.1\tlocalhost\n127.0.1.1\tflock-web-1a2b # the machine's own name\n::1 localhost ip6-localhost\n"
        )
    }

    @Test func aFileWithoutTheLineOrAlreadyRightIsLeftAlone() {
        #expect(HostsFile.renaming("127.0.0.1 localhost\n", to: "flock-web-1") == nil)
        #expect(HostsFile.renaming("127.0.1.1\tflock-web-1\n", to: "flock-web-1") == nil)
        #expect(HostsFile.renaming("# 127.0.1.1 old\n", to: "flock-web-1") == nil, "a comment is not the line")
    }
}
