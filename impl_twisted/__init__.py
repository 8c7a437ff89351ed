"""netrosetta servers written the Twisted way: protocols, factories, endpoints and twisted.web."""

from netrosetta.launch import Config, Implementation


def install_reactor(config: Config) -> None:
    """Install the reactor --loop asks for; it must happen before anything imports the reactor."""
    from twisted.internet import asyncioreactor, epollreactor, pollreactor, selectreactor

    installers = {
        "select": selectreactor.install,
        "poll": pollreactor.install,
        "epoll": epollreactor.install,
        "asyncio": asyncioreactor.install,
    }
    if config.loop in installers:
        installers[config.loop]()


IMPLEMENTATION = Implementation(
    name="twisted",
    package="impl_twisted",
    loops=("default", "select", "poll", "epoll", "asyncio"),
    prepare=install_reactor,
)
