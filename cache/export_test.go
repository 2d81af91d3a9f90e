package cache

// crash simulates the death of the daemon (kill -9): background work
// stops without uploading or recording anything more, and the data files
// and the directory lock are released, so that a new Cache can open the
// same directory. What is on disk is what a crash would leave.
func (c *Cache) crash() {
	c.closed.Store(true)
	c.cancel()
	c.wb.stop()
	c.waitBackground()
	c.mu.Lock()
	var es []*Entry
	for _, e := range c.entries {
		es = append(es, e)
	}
	c.mu.Unlock()
	for _, e := range es {
		e.closeFile()
	}
	c.lockFile.Close()
}

// checkNow returns the first broken accounting invariant.
func (c *Cache) checkNow() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invariantsLocked()
}

func (c *Cache) usedBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}
