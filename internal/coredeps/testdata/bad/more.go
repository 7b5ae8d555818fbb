package bad

import (
	"database/sql"
	. "time"
)

var _ sql.DB
var _ = Now
