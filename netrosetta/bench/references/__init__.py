"""Reference servers the benchmark measures ours against: each takes --port and prints READY.

They are the stock examples of each framework (Twisted's echoserv, Tornado's tcpecho, a bare
twisted.web Resource, a bare tornado.web handler, the Python docs' asyncio streams echo), an
asyncio Protocol echo on uvloop and on the stdlib loop, Node.js net and http servers, and nginx (a
config template, since nginx is not a script). They are deliberately
plain: the gap between them and our hardened implementations is the measured cost of the contract.
"""
