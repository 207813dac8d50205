"""An os-ken OpenFlow 1.3 application for ferrovs' controller tests.

Usage: python osken_app.py PORT

Listens on 127.0.0.1:PORT. When a switch connects it installs a table-miss
flow (cookie 0x5ce, to the controller), prints "connected <dpid>", and
asks to be master (printing "role <n>" from the reply); every echo reply
it sees is printed as "echo"; it sends an echo request every second so
the connection is known to be alive both ways.
"""

import sys

from os_ken import cfg
from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3


class FerrovsTest(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        actions = [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)]
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(parser.OFPFlowMod(datapath=dp, cookie=0x5CE, priority=0, match=parser.OFPMatch(), instructions=inst))
        print("connected %016x" % dp.id, flush=True)
        dp.send_msg(parser.OFPRoleRequest(dp, ofp.OFPCR_ROLE_MASTER, 1))
        hub.spawn(self.echo_loop, dp)

    @set_ev_cls(ofp_event.EventOFPRoleReply, MAIN_DISPATCHER)
    def role_reply(self, ev):
        print("role %d" % ev.msg.role, flush=True)

    def echo_loop(self, dp):
        while True:
            dp.send_msg(dp.ofproto_parser.OFPEchoRequest(dp, data=b"ferrovs"))
            hub.sleep(1)

    @set_ev_cls(ofp_event.EventOFPEchoReply, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def echo_reply(self, ev):
        print("echo", flush=True)


if __name__ == "__main__":
    cfg.CONF(args=["--ofp-tcp-listen-port", sys.argv[1], "--ofp-listen-host", "127.0.0.1"], project="os_ken")
    app_manager.AppManager.run_apps([__name__])
