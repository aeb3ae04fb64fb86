// Forms marked data-direct-upload (the app on S3): each chosen file goes
// straight to the bucket with @stowage/browser, with a progress bar and a
// cancel button; the form is then submitted with upload tokens instead of
// files, and the server confirms them with the fields' validators. A big
// document goes up in parts, and an interrupted one resumes where it stopped
// when the form is submitted again (the session is kept in localStorage).
import { upload } from '/client/stowage-browser/index.js'

function showError(input, message) {
  let list = document.getElementById(`${input.name}-errors`)
  if (!list) {
    list = document.createElement('ul')
    list.className = 'errorlist'
    list.id = `${input.name}-errors`
    const preview = input.nextElementSibling?.classList.contains('preview') ? input.nextElementSibling : input
    preview.after(list)
  }
  list.replaceChildren(Object.assign(document.createElement('li'), { textContent: message }))
}

function hidden(form, name, value) {
  form.append(Object.assign(document.createElement('input'), { type: 'hidden', name, value }))
}

const megabytes = (n) => (n / 1024 / 1024).toFixed(1)

for (const form of document.querySelectorAll('form[data-direct-upload]')) {
  const status = form.querySelector('.upload-status')
  const bar = form.querySelector('.upload-progress')
  const text = form.querySelector('.upload-text')
  let controller
  form.querySelector('.upload-cancel').addEventListener('click', () => controller?.abort())

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (controller) return // an upload is running
    const inputs = [...form.querySelectorAll('input[type=file][data-endpoint]')].filter((i) => i.files.length)
    form.querySelectorAll('.errorlist').forEach((l) => l.remove())
    controller = new AbortController()
    status.hidden = false
    form.dataset.upload = 'running'
    const sent = []
    let current
    try {
      for (const input of inputs) {
        current = input
        const file = input.files[0]
        const { upload: token } = await upload(file, {
          endpoint: input.dataset.endpoint,
          confirm: false, // the form handler confirms, so a token is only good with this form
          signal: controller.signal,
          store: localStorage,
          onProgress: ({ loaded, total, rate }) => {
            bar.max = total
            bar.value = loaded
            text.textContent = `${file.name}: ${Math.floor((loaded / total) * 100)}% of ${megabytes(total)} MB${rate ? `, ${megabytes(rate)} MB/s` : ''}`
          },
        })
        sent.push({ input, token, filename: file.name })
      }
    } catch (err) {
      // What went up for this form is cancelled on the server.
      for (const { input, token } of sent) {
        fetch(`${input.dataset.endpoint}/abort`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ upload: token }) })
      }
      controller = undefined
      if (err.name === 'AbortError') {
        text.textContent = 'Upload cancelled.'
        form.dataset.upload = 'cancelled'
        return
      }
      showError(current, err.session ? `${err.message}. Submit again to resume.` : err.message)
      text.textContent = ''
      form.dataset.upload = 'failed'
      return
    }
    for (const { input, token, filename } of sent) {
      hidden(form, `${input.name}_upload`, token)
      hidden(form, `${input.name}_filename`, filename)
      input.disabled = true // the bytes are already in the bucket
    }
    text.textContent = 'Uploaded; saving…'
    form.dataset.upload = 'done'
    form.submit()
  })
}
