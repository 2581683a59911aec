import Testing

@testable import FlockQEMU

@Suite struct QEMUFactsTests {
    @Test func theVersionIsReadFromQEMUsBanner() {
        let banner = "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022"
        #expect(QEMUFacts.parseVersion(banner) == "7.2.22")
    }

    @Test func aliasesResolveToTheirVersionedMachineType() {
        let help = """
            Supported machines are:
            q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)
            pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)
            """
        let facts = QEMUFacts(version: "7.2.22", machines: QEMUFacts.parseMachines(help))
        #expect(facts.resolvedMachine("q35") == "pc-q35-7.2")
        #expect(facts.resolvedMachine("pc-q35-7.2") == "pc-q35-7.2")
        #expect(facts.resolvedMachine("virt") == "virt")
    }
}
