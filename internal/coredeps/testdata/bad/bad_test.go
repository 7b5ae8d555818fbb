package bad

import (
	"os"
	"time"
)

// Test files may do what the core's source may not: this one must not be reported.
var _ = os.Getenv
var _ = time.Now
