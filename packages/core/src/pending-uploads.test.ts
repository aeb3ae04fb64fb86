import { describe, expect, it } from 'vitest'
import { SuspiciousFileOperationError } from './errors.js'
import { newPendingUpload, parsePendingUpload, PENDING_PREFIX, pendingMarker } from './pending-uploads.js'

describe('pending uploads', () => {
  it('names a fresh upload under its own random id and reads it back', () => {
    const a = newPendingUpload('avatars/my photo (1).png')
    const b = newPendingUpload('avatars/my photo (1).png')
    expect(a.upload).toMatch(/^\.stowage-pending\/[0-9a-f]{32}\/avatars\/my photo \(1\)\.png$/)
    expect(a.id).not.toBe(b.id)
    expect(parsePendingUpload(a.upload)).toEqual(a)
    expect(parsePendingUpload(`./${a.upload}`, PENDING_PREFIX)).toEqual(a)
    expect(pendingMarker(a.id, 'up')).toBe(`up/${a.id}.done`)
  })

  it.each(['../x.png', 'a\\b.png', 'a\0b.png', 'a/../../x.png'])('refuses the hostile name %j', (name) => {
    expect(() => newPendingUpload(name)).toThrow(SuspiciousFileOperationError)
  })

  it.each([
    'avatars/me.png',
    '.stowage-pending/me.png',
    `.stowage-pending/${'0'.repeat(31)}/me.png`,
    `.stowage-pending/${'0'.repeat(32)}`,
    `other/${'0'.repeat(32)}/me.png`,
  ])('refuses %j as a token', (token) => {
    expect(() => parsePendingUpload(token)).toThrow(SuspiciousFileOperationError)
  })
})
