export { fileField, FileField, type FileFieldOptions, type StorageRef, type UploadTo } from './file-field.js'
export { FieldFile, type FieldFileSaveOptions } from './field-file.js'
export { imageField, ImageField, ImageFieldFile, type ImageFieldOptions } from './image-field.js'
export { strftime } from './strftime.js'
