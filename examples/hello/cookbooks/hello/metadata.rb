name 'hello'
version '0.1.0'
description 'Writes a small configured service tree under /tmp/skillet-example'
