from twisted.application.service import ServiceMaker

xinetd = ServiceMaker(
    "txinetd", "txinetd.tap", "xinetd, the extended internet super-server", "xinetd"
)
