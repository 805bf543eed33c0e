package testenv

import (
	"io"
	"net"
	"sync"
)

// Proxy is a loopback TCP proxy in front of an API server, for tests of
// clusters that go away: it can be cut off (listener and every connection
// closed), stalled (connections accepted but never answered, as a
// black-holed network does), and reopened on the same address.
type Proxy struct {
	target  string
	mu      sync.Mutex
	addr    string
	ln      net.Listener
	conns   map[net.Conn]struct{}
	stalled bool
}

// NewProxy listens on a free loopback port and forwards to target
// (host:port).
func NewProxy(target string) (*Proxy, error) {
	p := &Proxy{target: target, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	if err := p.Open(); err != nil {
		return nil, err
	}
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Open listens (again, after Cut) on the proxy's address.
func (p *Proxy) Open() error {
	p.mu.Lock()
	addr := p.addr
	p.mu.Unlock()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return nil
}

func (p *Proxy) serve(c net.Conn) {
	p.mu.Lock()
	stalled := p.stalled
	if stalled {
		p.conns[c] = struct{}{}
	}
	p.mu.Unlock()
	if stalled {
		return // held open, never answered; closed by Cut or Resume
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

// Stall closes the connections in use and holds every new one unanswered.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
	p.dropLocked()
}

// Resume ends a stall.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = false
	p.dropLocked()
}

// Cut stops answering: the listener closes and every connection drops.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.dropLocked()
}

func (p *Proxy) dropLocked() {
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}
